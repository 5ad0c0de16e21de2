using Thaw.Sandboxes.Zygotes;

namespace Thaw.Runtimes.Python;

/// <summary>One zygote of the import cache: the package set it holds and its bookkeeping (guarded by the cache's lock).</summary>
public sealed class ImportCacheNode(Zygote zygote, ImportCacheNode? parent, IReadOnlySet<string> packages)
{
    public Zygote Zygote { get; } = zygote;

    /// <summary>The node it was forked from; null when that is the root (the bare runtime).</summary>
    public ImportCacheNode? Parent { get; internal set; } = parent;

    /// <summary>Top-level package names (numpy, PIL): a function forks from here only if it uses them all.</summary>
    public IReadOnlySet<string> Packages { get; } = packages;

    /// <summary>Sandboxes forked from it that are still alive, plus children being forked: never evicted while non-zero.</summary>
    public int Live { get; internal set; }

    public long Uses { get; internal set; }

    public long LastUsed { get; internal set; }

    /// <summary>Its proportional set size when built (what it adds to the node's memory).</summary>
    public long MemoryBytes { get; internal init; }
}
