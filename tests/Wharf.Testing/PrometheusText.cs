using System.Globalization;
using System.Text;

namespace Wharf.Testing;

/// <summary>
/// One scrape of a Prometheus text exposition: every sample by name and labels. <see cref="CheckWithPromtoolAsync"/>
/// has the real parser (Prometheus' <c>promtool check metrics</c>) read the same text.
/// </summary>
public sealed class PrometheusText
{
    private readonly List<(string Name, IReadOnlyDictionary<string, string> Labels, double Value)> _samples = [];

    private PrometheusText(string text) => Text = text;

    public string Text { get; }

    /// <summary>Samples of the metric <paramref name="name"/> whose labels include all of <paramref name="labels"/>, added up (0 when none).</summary>
    public double Sum(string name, params (string Label, string Value)[] labels) =>
        _samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Sum(s => s.Value);

    /// <summary>Whether any sample of <paramref name="name"/> exists.</summary>
    public bool Has(string name) => _samples.Any(s => s.Name == name);

    /// <summary>Every label value of <paramref name="label"/> on samples whose name starts with <paramref name="prefix"/>.</summary>
    public IReadOnlyList<string> LabelValues(string prefix, string label) =>
        _samples.Where(s => s.Name.StartsWith(prefix, StringComparison.Ordinal) && s.Labels.ContainsKey(label)).Select(s => s.Labels[label]).Distinct().ToList();

    public IEnumerable<string> Names => _samples.Select(s => s.Name).Distinct();

    public static async Task<PrometheusText> ScrapeAsync(HttpClient http, string url = "metrics", CancellationToken ct = default)
    {
        using var response = await http.GetAsync(url, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {url}: {(int)response.StatusCode}\n{body}");
        return Parse(body);
    }

    /// <summary>Reads samples (<c>name{a="b",…} value</c>); comments are skipped. Strict enough for tests, not a full parser.</summary>
    public static PrometheusText Parse(string text)
    {
        var result = new PrometheusText(text);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            var brace = line.IndexOf('{');
            var space = line.IndexOf(' ');
            string name;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            int valueStart;
            if (brace >= 0 && (space < 0 || brace < space))
            {
                name = line[..brace];
                var i = brace + 1;
                while (line[i] != '}')
                {
                    var eq = line.IndexOf('=', i);
                    var key = line[i..eq];
                    var value = new StringBuilder();
                    var j = eq + 2; // past ="
                    while (line[j] != '"')
                    {
                        if (line[j] == '\\') { j++; value.Append(line[j] == 'n' ? '\n' : line[j]); }
                        else value.Append(line[j]);
                        j++;
                    }
                    labels[key] = value.ToString();
                    i = j + 1;
                    if (line[i] == ',') i++;
                }
                valueStart = i + 2;
            }
            else
            {
                name = line[..space];
                valueStart = space + 1;
            }
            var valueText = line[valueStart..].Split(' ')[0];
            var number = valueText switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            result._samples.Add((name, labels, number));
        }
        return result;
    }

    /// <summary>
    /// Feeds the text to <c>promtool check metrics</c> (Debian's <c>prometheus</c> package). A parse error fails; lint
    /// remarks fail too, except on the .NET runtime's own instrument names (<c>dotnet_*</c>), which Wharf does not choose.
    /// </summary>
    public async Task CheckWithPromtoolAsync(CancellationToken ct)
    {
        var result = await ExternalTool.RunAsync("promtool", ["check", "metrics"], new ToolRunOptions { StandardInput = Text }, ct);
        if (result.ExitCode == 0) return;
        var remarks = (result.StandardOutput + "\n" + result.StandardError).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var foreign = remarks.Where(r => !r.StartsWith("dotnet_", StringComparison.Ordinal)).ToList();
        if (result.ExitCode == 3 && foreign.Count == 0) return; // 3: lint remarks only
        Assert.Fail($"promtool check metrics found problems:\n{result.Describe()}");
    }
}
