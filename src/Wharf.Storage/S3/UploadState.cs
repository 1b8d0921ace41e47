using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wharf.Storage.S3;

/// <summary>What an upload session is, after its latest change: the header of its <c>state/&lt;seq&gt;</c> object.</summary>
internal sealed record UploadState
{
    public const string Open = "open";
    public const string Committing = "committing";
    public const string Ended = "ended";

    public int Version { get; init; } = 1;

    public required string Repository { get; init; }

    public required string Algorithm { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary><see cref="Open"/>; <see cref="Committing"/> while a commit runs; <see cref="Ended"/> once cancelled or expired.</summary>
    public string Status { get; init; } = Open;

    /// <summary>Bytes received: <see cref="Assembled"/> + the parts + <see cref="TailLength"/>.</summary>
    public long Offset { get; init; }

    /// <summary>The running hash of all <see cref="Offset"/> bytes (<see cref="ResumableHash.Export"/>), base64.</summary>
    public required string Hash { get; init; }

    /// <summary>Generation of the data object; each multipart upload or assembly gets a new one.</summary>
    public int Generation { get; init; }

    /// <summary>The multipart upload at <c>data-&lt;generation&gt;</c> holding <see cref="Parts"/>, or null.</summary>
    public string? UploadId { get; init; }

    public IReadOnlyList<UploadPart> Parts { get; init; } = [];

    /// <summary>Bytes in the object <c>data-&lt;generation&gt;</c> when the parts have been assembled into one (then there are no parts and no tail).</summary>
    public long Assembled { get; init; }

    /// <summary>Bytes after the header in the state object: the end of the data, fewer than a part.</summary>
    public long TailLength { get; init; }

    [JsonIgnore]
    public int NextPartNumber => Parts.Count == 0 ? 1 : Parts[^1].Number + 1;

    [JsonIgnore]
    public bool IsEmpty => Offset == 0;

    /// <summary>The start of the state object's body: a 4-byte big-endian length, then the JSON header. The tail follows it.</summary>
    public byte[] SerializeHeader()
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(this, UploadStateJsonContext.Default.UploadState);
        var header = new byte[4 + json.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, json.Length);
        json.CopyTo(header, 4);
        return header;
    }

    /// <summary>Reads the header from the start of a state object; <paramref name="headerLength"/> is where the tail starts.</summary>
    public static UploadState? Parse(ReadOnlySpan<byte> body, out int headerLength)
    {
        headerLength = 0;
        if (body.Length < 4) return null;
        var length = BinaryPrimitives.ReadInt32BigEndian(body);
        if (length <= 0 || length > body.Length - 4) return null;
        headerLength = 4 + length;
        try
        {
            return JsonSerializer.Deserialize(body.Slice(4, length), UploadStateJsonContext.Default.UploadState);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>One uploaded part of a multipart upload, with the ETag the server gave it (checked again on completion).</summary>
internal sealed record UploadPart(int Number, long Size, string ETag);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UploadState))]
internal sealed partial class UploadStateJsonContext : JsonSerializerContext;
