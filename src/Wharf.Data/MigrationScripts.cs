using System.Globalization;
using System.Reflection;

namespace Wharf.Data;

/// <summary>A numbered schema migration embedded in this assembly (<c>NNNN_name.sql</c>).</summary>
public sealed record MigrationScript(int Version, string Name, string Sql);

/// <summary>Loads a provider's embedded migrations: numbered, in version order, no number twice (gaps are fine).</summary>
internal static class MigrationScripts
{
    public static IReadOnlyList<MigrationScript> Load(string resourcePrefix)
    {
        var assembly = typeof(MigrationScripts).Assembly;
        var migrations = new List<MigrationScript>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(resourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal)) continue;
            // MSBuild may prefix a leading digit with '_' when it builds the resource name.
            var name = resource[resourcePrefix.Length..^".sql".Length].TrimStart('_');
            var digits = 0;
            while (digits < name.Length && char.IsAsciiDigit(name[digits])) digits++;
            if (digits == 0) throw new InvalidOperationException($"Migration resource '{resource}' does not start with a version number.");
            var version = int.Parse(name.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture);
            migrations.Add(new MigrationScript(version, name, Read(assembly, resource)));
        }
        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 1; i < migrations.Count; i++)
        {
            if (migrations[i].Version == migrations[i - 1].Version)
            {
                throw new InvalidOperationException($"Two migrations have version {migrations[i].Version}: {migrations[i - 1].Name}, {migrations[i].Name}.");
            }
        }
        return migrations;
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Migration resource '{resource}' is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
