using Thaw.Sandboxes.Zygotes;

namespace Thaw.Runtimes.Python;

/// <summary>The zygote one sandbox forks from; held until the sandbox is gone so its node is not evicted under it.</summary>
public sealed class ImportCacheLease : IDisposable
{
    private readonly ImportCache _cache;
    private int _done;

    internal ImportCacheLease(ImportCache cache, ImportCacheNode? node, Zygote zygote)
    {
        _cache = cache;
        Node = node;
        Zygote = zygote;
    }

    /// <summary>The node, or null for the root zygote.</summary>
    public ImportCacheNode? Node { get; }

    public Zygote Zygote { get; }

    /// <summary>The zygote died before the fork: its node is dropped (the next lease falls back to its parent).</summary>
    public void Lost()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0 && Node is not null)
            _cache.Lost(Node);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0 && Node is not null)
            _cache.Release(Node);
    }
}
