namespace Thaw.Service.Deploy;

/// <summary>
/// Where a symlink in an unpacked archive leads, walked the way the kernel walks it but over the
/// links the archive made rather than the disk. Reading the target as a string is not enough: with
/// "sub/a -> .." and "sub/b -> a/../x", b's target looks like sub/x, but the kernel follows a first
/// and the ".." after it climbs out of the function.
/// </summary>
internal static class SymlinkResolution
{
    public enum Outcome
    {
        Inside,
        Outside,
        Loop,
    }

    /// <summary>Linux's MAXSYMLINKS: the kernel gives up with ELOOP after as many.</summary>
    private const int MaxHops = 40;

    /// <summary>
    /// Resolves <paramref name="path"/> (relative to the function's directory) through the links
    /// <paramref name="linkTarget"/> knows, which gives a path's target or null when it is no symlink.
    /// </summary>
    public static Outcome Resolve(string path, Func<string, string?> linkTarget)
    {
        var at = new List<string>();
        var pending = new Stack<string>();
        PushFront(pending, path);
        int hops = 0;
        while (pending.TryPop(out var segment))
        {
            if (segment is "" or ".")
                continue;
            if (segment == "..")
            {
                if (at.Count == 0)
                    return Outcome.Outside;
                at.RemoveAt(at.Count - 1);
                continue;
            }
            at.Add(segment);
            if (linkTarget(string.Join('/', at)) is not { } target)
                continue;
            if (++hops > MaxHops)
                return Outcome.Loop;
            if (target.StartsWith('/'))
                return Outcome.Outside;
            at.RemoveAt(at.Count - 1);          // a relative target starts from the link's own directory
            PushFront(pending, target);
        }
        return Outcome.Inside;
    }

    private static void PushFront(Stack<string> pending, string path)
    {
        var segments = path.Split('/');
        for (int i = segments.Length - 1; i >= 0; i--)
            pending.Push(segments[i]);
    }
}
