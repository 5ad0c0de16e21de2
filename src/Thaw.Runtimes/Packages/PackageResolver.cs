namespace Thaw.Runtimes.Packages;

/// <summary>
/// The dependency closure of a function's requirements, from package metadata: each package once,
/// a version that satisfies every requirement on it, the base image's own preferred when it does.
/// Greedy, no backtracking: a later requirement that excludes a chosen version is a conflict, named
/// with everyone who asked for what.
/// </summary>
public static class PackageResolver
{
    public static IReadOnlyList<Distribution> Resolve(IEnumerable<string> requirements, PackageIndex index, string requestedBy)
    {
        var constraints = new Dictionary<string, List<(Requirement Req, string By)>>();
        var chosen = new Dictionary<string, Distribution>();
        var queue = new Queue<(Requirement, string)>();
        foreach (var text in requirements)
        {
            Requirement req;
            try { req = Requirement.Parse(text); }
            catch (FormatException e) { throw new PackageResolutionException(e.Message); }
            queue.Enqueue((req, requestedBy));
        }
        while (queue.TryDequeue(out var item))
        {
            var (req, by) = item;
            if (!constraints.TryGetValue(req.Key, out var on))
                constraints[req.Key] = on = [];
            on.Add((req, by));
            if (chosen.TryGetValue(req.Key, out var already))
            {
                if (!req.IsSatisfiedBy(already.Version))
                    throw new PackageResolutionException($"version conflict on {req.Name}: {Describe(on)}; {already} was chosen for the first");
                continue;
            }
            var candidates = index.Candidates(req.Key);
            var fits = candidates.Where(d => on.All(c => c.Req.IsSatisfiedBy(d.Version))).ToList();
            var pick = fits.Where(d => d.IsSystem).MaxBy(d => d.Version, VersionComparer.Instance)
                ?? fits.MaxBy(d => d.Version, VersionComparer.Instance);
            if (pick is null)
            {
                string available = candidates.Count == 0 ? "no such package in the wheelhouse, the index or the base image"
                    : "available: " + string.Join(", ", candidates.Select(c => c.Version + (c.IsSystem ? " (base image)" : "")).Distinct());
                throw new PackageResolutionException($"nothing satisfies {Describe(on)} ({available})");
            }
            pick = index.Fetch(pick); // from an index: downloaded now, its metadata read
            chosen[req.Key] = pick;
            foreach (var dep in pick.Requires)
                queue.Enqueue((dep, pick.ToString()));
        }
        return [.. chosen.Values.OrderBy(d => d.Key, StringComparer.Ordinal)];
    }

    private static string Describe(List<(Requirement Req, string By)> on) =>
        string.Join(" and ", on.Select(c => $"{c.Req} (required by {c.By})"));

    private sealed class VersionComparer : IComparer<string>
    {
        public static readonly VersionComparer Instance = new();

        public int Compare(string? x, string? y) => Requirement.Compare(x ?? "", y ?? "");
    }
}

/// <summary>A function's requirements cannot be met: a missing package, no fitting version, or a conflict.</summary>
public sealed class PackageResolutionException(string message) : Exception(message);
