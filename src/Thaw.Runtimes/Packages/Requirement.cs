using System.Globalization;
using System.Text.RegularExpressions;

namespace Thaw.Runtimes.Packages;

/// <summary>
/// One requirement as pip writes them (PEP 508, the subset functions and package metadata use):
/// a name, optional version clauses (==, !=, &gt;=, &lt;=, &gt;, &lt;, ~=), an optional marker. Requirements
/// behind an `extra` marker are not part of a plain install and are dropped when read from metadata.
/// </summary>
public sealed partial record Requirement(string Name, IReadOnlyList<(string Op, string Version)> Clauses, string? Marker)
{
    /// <summary>PEP 503: lower case, runs of -, _ and . as one -.</summary>
    public string Key => Normalize(Name);

    public static string Normalize(string name) => Separators().Replace(name.ToLowerInvariant(), "-");

    public static Requirement Parse(string text)
    {
        string spec = text.Trim();
        string? marker = null;
        int semicolon = spec.IndexOf(';', StringComparison.Ordinal);
        if (semicolon >= 0)
        {
            marker = spec[(semicolon + 1)..].Trim();
            spec = spec[..semicolon].Trim();
        }
        var match = Shape().Match(spec);
        if (!match.Success)
            throw new FormatException($"'{text}' is not a requirement (name, optionally with version clauses like ==1.2 or >=1,<2)");
        var clauses = new List<(string, string)>();
        foreach (var clause in match.Groups["clauses"].Value.Trim('(', ')', ' ').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var c = Clause().Match(clause);
            if (!c.Success)
                throw new FormatException($"'{text}': '{clause}' is not a version clause");
            clauses.Add((c.Groups["op"].Value, c.Groups["version"].Value));
        }
        return new Requirement(match.Groups["name"].Value, clauses, marker);
    }

    /// <summary>Whether a plain install (no extras) needs it: markers naming an extra are for extras only.</summary>
    public bool AppliesWithoutExtras => Marker is null || !Marker.Contains("extra", StringComparison.Ordinal);

    public bool IsSatisfiedBy(string version) => Clauses.All(c => c.Op switch
    {
        "==" => c.Version.EndsWith(".*", StringComparison.Ordinal) ? version.StartsWith(c.Version[..^1], StringComparison.Ordinal) : Compare(version, c.Version) == 0,
        "!=" => Compare(version, c.Version) != 0,
        ">=" => Compare(version, c.Version) >= 0,
        "<=" => Compare(version, c.Version) <= 0,
        ">" => Compare(version, c.Version) > 0,
        "<" => Compare(version, c.Version) < 0,
        "~=" => Compare(version, c.Version) >= 0 && version.StartsWith(string.Join('.', c.Version.Split('.')[..^1]) + ".", StringComparison.Ordinal),
        _ => false,
    });

    /// <summary>Release segments compared numerically (1.10 > 1.9), a shorter release padded with zeros.</summary>
    public static int Compare(string a, string b)
    {
        var x = a.Split('.');
        var y = b.Split('.');
        for (int i = 0; i < Math.Max(x.Length, y.Length); i++)
        {
            string p = i < x.Length ? x[i] : "0", q = i < y.Length ? y[i] : "0";
            int c = long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long m) && long.TryParse(q, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
                ? m.CompareTo(n)
                : string.CompareOrdinal(p, q);
            if (c != 0)
                return c;
        }
        return 0;
    }

    public override string ToString() => Name + string.Join(',', Clauses.Select(c => c.Op + c.Version));

    [GeneratedRegex(@"[-_.]+")]
    private static partial Regex Separators();

    [GeneratedRegex(@"^(?<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(?<clauses>\(?[^()]*\)?)$")]
    private static partial Regex Shape();

    [GeneratedRegex(@"^(?<op>==|!=|>=|<=|~=|>|<)\s*(?<version>[A-Za-z0-9.*+!_-]+)$")]
    private static partial Regex Clause();
}
