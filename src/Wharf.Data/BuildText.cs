using System.Text.Json;
using System.Text.Json.Serialization;
using Wharf.Core.Builds;

namespace Wharf.Data;

/// <summary>How builds' words are stored as text, the same on every provider.</summary>
internal static class BuildText
{
    public static string Format(BuildSourceKind kind) => kind == BuildSourceKind.Context ? "context" : "dockerfile";

    public static BuildSourceKind ParseSourceKind(string text) => text == "context" ? BuildSourceKind.Context : BuildSourceKind.Dockerfile;

    public static BuildState ParseState(string text) => BuildWords.TryParseState(text, out var state) ? state : BuildState.Failed;

    public static PhaseStatus ParsePhase(string text) => text switch
    {
        "in_progress" => PhaseStatus.InProgress,
        "completed" => PhaseStatus.Completed,
        "failed" => PhaseStatus.Failed,
        _ => PhaseStatus.Pending,
    };

    public static BuildErrorKind ParseErrorKind(string? text) => text switch
    {
        "build" => BuildErrorKind.Build,
        "push" => BuildErrorKind.Push,
        "infrastructure" => BuildErrorKind.Infrastructure,
        _ => BuildErrorKind.None,
    };

    public static string FormatArgs(IReadOnlyDictionary<string, string> args) => JsonSerializer.Serialize(args, BuildTextJson.Default.IReadOnlyDictionaryStringString);

    public static IReadOnlyDictionary<string, string> ParseArgs(string json) =>
        JsonSerializer.Deserialize(json, BuildTextJson.Default.IReadOnlyDictionaryStringString) ?? new Dictionary<string, string>();

    /// <summary>A build's secret ids as a JSON array (only the ids: the values never reach the database).</summary>
    public static string FormatIds(IReadOnlyList<string> ids) => JsonSerializer.Serialize(ids, BuildTextJson.Default.IReadOnlyListString);

    public static IReadOnlyList<string> ParseIds(string json) => JsonSerializer.Deserialize(json, BuildTextJson.Default.IReadOnlyListString) ?? [];
}

[JsonSerializable(typeof(IReadOnlyDictionary<string, string>))]
[JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class BuildTextJson : JsonSerializerContext;
