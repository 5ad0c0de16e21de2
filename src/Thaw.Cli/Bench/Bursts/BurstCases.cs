namespace Thaw.Cli.Bench.Bursts;

/// <summary>The burst bench's cases, by the names --cases and the JSON use.</summary>
internal static class BurstCases
{
    /// <summary>N cold calls at once to one PIL+numpy function (examples/image-resize, keep_alive = 0s).</summary>
    public const string ImageResize = "image-resize";

    /// <summary>N first calls at once, each to a hello function deployed just before (a new set per burst).</summary>
    public const string DistinctHello = "distinct-hello";

    /// <summary>Clients in a closed loop on a hello with keep_alive = 0s: cold starts per second.</summary>
    public const string SustainedHello = "sustained-hello";

    public static readonly IReadOnlyList<string> All = [ImageResize, DistinctHello, SustainedHello];

    public static IReadOnlyList<string> Parse(string text)
    {
        var cases = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (cases.Count == 0 || cases.Any(c => !All.Contains(c)))
            throw new ArgumentException($"--cases: '{text}' is not a list of {string.Join(", ", All)}");
        return [.. All.Where(cases.Contains)];
    }
}

/// <summary>Who ran a row: Thaw, or the peer (a fresh python3 per call in a runc container).</summary>
internal static class BurstSystems
{
    public const string Thaw = "thaw";
    public const string RuncPython = "runc-python";
}
