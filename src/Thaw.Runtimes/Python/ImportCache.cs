using Microsoft.Extensions.Logging;
using Thaw.Sandboxes;
using Thaw.Sandboxes.Zygotes;

namespace Thaw.Runtimes.Python;

/// <summary>
/// SOCK's import cache: a tree of zygotes whose nodes are package sets. The root is the bare
/// runtime (the spawner's zygote); a child is forked from its parent and imports its extra
/// packages. A function forks from the deepest zygote whose packages are all among its own, so
/// it never holds a package it does not use.
///
/// The tree is learned: every sandbox reports the package modules its handler loaded, and a node
/// is built (in the background, never on a request's path) for a package set shared by at least
/// <see cref="ImportCacheOptions.SharedBy"/> functions, or used by a function's cold starts at least
/// <see cref="ImportCacheOptions.HotStarts"/> times. It can also be seeded. It is bounded by a memory
/// budget (zygotes' proportional set size): idle leaves go first, least recently used first, and
/// a node with live sandboxes or child zygotes is never evicted. A crashed node is dropped (its
/// functions fall back to its parent) and rebuilt by the next learning step that still wants it.
/// </summary>
public sealed partial class ImportCache : IAsyncDisposable
{
    private readonly SandboxSpawner _spawner;
    private readonly ImportCacheOptions _options;
    private readonly IReadOnlyList<string> _paths;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly List<ImportCacheNode> _nodes = [];
    private readonly Dictionary<string, LearnedFunction> _functions = [];
    private readonly HashSet<string> _building = [];
    private int _evictions;
    private bool _nodesWent;
    private bool _disposed;

    /// <summary>Builds nodes with <paramref name="paths"/> in front of sys.path (the same as the sandboxes').</summary>
    public ImportCache(SandboxSpawner spawner, ImportCacheOptions options, IReadOnlyList<string> paths, ILogger logger)
    {
        options.Validate();
        _spawner = spawner;
        _options = options;
        _paths = paths;
        _logger = logger;
    }

    public int Evictions => Volatile.Read(ref _evictions);

    /// <summary>The nodes below the root, as they are now.</summary>
    public IReadOnlyList<ImportCacheNode> Nodes
    {
        get { lock (_lock) return [.. _nodes]; }
    }

    /// <summary>The top-level packages <paramref name="function"/>'s sandboxes were seen to load (empty before its first start).</summary>
    public IReadOnlySet<string> PackagesOf(string function)
    {
        lock (_lock)
            return _functions.TryGetValue(function, out var learned) ? new SortedSet<string>(learned.Packages, StringComparer.Ordinal) : new SortedSet<string>();
    }

    /// <summary>The modules <paramref name="function"/>'s sandboxes were seen to load from packages, as they reported them.</summary>
    public IReadOnlyList<string> ModulesOf(string function)
    {
        lock (_lock)
            return _functions.TryGetValue(function, out var learned) ? [.. learned.Modules.Order(StringComparer.Ordinal)] : [];
    }

    /// <summary>
    /// The zygote <paramref name="function"/>'s next sandbox forks from: the deepest live node whose
    /// packages it all uses (the root while nothing is learned). Dispose the lease when the sandbox is gone.
    /// </summary>
    public ImportCacheLease Acquire(string function)
    {
        lock (_lock)
        {
            DropDead();
            var best = NodeForLocked(function);
            if (best is null)
                return new ImportCacheLease(this, null, _spawner.Zygote);
            best.Live++;
            best.LastUsed = Environment.TickCount64;
            best.Uses++;
            return new ImportCacheLease(this, best, best.Zygote);
        }
    }

    /// <summary>The node <paramref name="function"/>'s next sandbox would fork from (null: the root zygote), without taking it.</summary>
    public ImportCacheNode? NodeFor(string function)
    {
        lock (_lock)
            return NodeForLocked(function);
    }

    /// <summary>The deepest node whose packages the function uses all of.</summary>
    private ImportCacheNode? NodeForLocked(string function)
    {
        var packages = _functions.TryGetValue(function, out var learned) ? learned.Packages : [];
        return _nodes.Where(n => n.Packages.IsSubsetOf(packages)).MaxBy(n => n.Packages.Count);
    }

    /// <summary>A lease's zygote died before the fork: drop its node; the caller retries (on its parent).</summary>
    internal void Lost(ImportCacheNode node)
    {
        lock (_lock)
        {
            node.Live--;
            Remove(node, "died");
        }
    }

    internal void Release(ImportCacheNode node)
    {
        lock (_lock)
        {
            node.Live--;
            node.LastUsed = Environment.TickCount64;
        }
    }

    /// <summary>
    /// What a sandbox of <paramref name="function"/> loaded from packages (its ready message). Counts
    /// the cold start and builds, in the background, the nodes the tree now wants.
    /// </summary>
    public void Learn(string function, IReadOnlyList<string> modules)
    {
        List<SortedSet<string>> wanted;
        lock (_lock)
        {
            if (_disposed)
                return;
            if (!_functions.TryGetValue(function, out var learned))
                _functions[function] = learned = new LearnedFunction();
            learned.Starts++;
            // Runs on every cold start: the wanted nodes change only when a function loads something
            // new, turns hot, or a node went (dropped, evicted, failed to build: rebuilt if still wanted).
            bool grew = !learned.Modules.IsSupersetOf(modules);
            if (!grew && learned.Starts != _options.HotStarts && !_nodesWent)
                return;
            _nodesWent = false;
            learned.Modules.UnionWith(modules);
            learned.Packages.UnionWith(modules.Select(TopLevel));
            wanted = WantedSets().Where(set => !_nodes.Any(n => n.Packages.SetEquals(set)) && _building.Add(Key(set))).ToList();
        }
        foreach (var set in wanted)
            _ = Task.Run(() => BuildQuietlyAsync(set));
    }

    /// <summary>
    /// Drops what was learned of <paramref name="function"/> (redeployed with other code, or removed):
    /// its next sandbox forks from what its new code is seen to load. Nodes it helped build stay
    /// until idle eviction takes them.
    /// </summary>
    public void Forget(string function)
    {
        lock (_lock)
            _functions.Remove(function);
    }

    /// <summary>
    /// Builds, now, the node for everything <paramref name="function"/> was seen to load (after at
    /// least one start): what learning would build after its next cold starts. For benches and prewarming.
    /// </summary>
    public async Task PrepareAsync(string function)
    {
        SortedSet<string> set;
        List<string> modules;
        lock (_lock)
        {
            if (!_functions.TryGetValue(function, out var learned) || learned.Packages.Count == 0)
                return;
            set = new SortedSet<string>(learned.Packages, StringComparer.Ordinal);
            if (_nodes.Any(n => n.Packages.SetEquals(set)) || !_building.Add(Key(set)))
                return;
            modules = [.. learned.Modules.Order(StringComparer.Ordinal)];
        }
        await BuildAsync(set, modules).ConfigureAwait(false);
    }

    /// <summary>Builds nodes for package sets named in advance (a seed file), each as a list of modules to import.</summary>
    public async Task SeedAsync(IEnumerable<IReadOnlyList<string>> moduleSets)
    {
        foreach (var modules in moduleSets)
        {
            var set = new SortedSet<string>(modules.Select(TopLevel), StringComparer.Ordinal);
            lock (_lock)
            {
                if (_nodes.Any(n => n.Packages.SetEquals(set)) || !_building.Add(Key(set)))
                    continue;
            }
            await BuildAsync(set, modules).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a seed file: one node per line, its modules separated by spaces or commas; # starts a comment.</summary>
    public static List<IReadOnlyList<string>> ReadSeed(string path) =>
        [.. File.ReadLines(path)
            .Select(line => line.Split('#')[0])
            .Select(line => (IReadOnlyList<string>)line.Split([' ', ',', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Where(modules => modules.Count > 0)];

    /// <summary>Evicts idle leaves until the zygotes fit the memory budget (and any idle longer than the idle timeout).</summary>
    public void Trim()
    {
        List<ImportCacheNode> evict = [];
        lock (_lock)
        {
            long now = Environment.TickCount64;
            long total = _nodes.Sum(n => n.MemoryBytes);
            // Leaves only, least recently used first; evicting a leaf may make its parent one.
            while (_nodes.Where(IsEvictable)
                .Where(n => total > _options.MemoryBudgetBytes || now - n.LastUsed > (long)_options.IdleTimeout.TotalMilliseconds)
                .MinBy(n => n.LastUsed) is { } node)
            {
                total -= node.MemoryBytes;
                _nodes.Remove(node);
                evict.Add(node);
                _evictions++;
                _nodesWent = true;
            }
        }
        foreach (var node in evict)
        {
            Log.Evicted(_logger, node.Zygote.Pid, string.Join(',', node.Packages), node.MemoryBytes >> 20);
            node.Zygote.Dispose();
        }
    }

    private bool IsEvictable(ImportCacheNode node) => node.Live == 0 && !_nodes.Any(n => n.Parent == node);

    /// <summary>Package sets the learned functions want a node for: hot functions' own sets and sets shared between functions.</summary>
    private IEnumerable<SortedSet<string>> WantedSets()
    {
        var functions = _functions.Values.Where(f => f.Packages.Count > 0).ToList();
        foreach (var f in functions.Where(f => f.Starts >= _options.HotStarts))
            yield return new SortedSet<string>(f.Packages, StringComparer.Ordinal);
        if (_options.SharedBy > functions.Count)
            yield break;
        for (int i = 0; i < functions.Count; i++)
            for (int j = i + 1; j < functions.Count; j++)
            {
                var shared = new SortedSet<string>(functions[i].Packages.Intersect(functions[j].Packages), StringComparer.Ordinal);
                if (shared.Count > 0 && functions.Count(f => shared.IsSubsetOf(f.Packages)) >= _options.SharedBy)
                    yield return shared;
            }
    }

    private async Task BuildQuietlyAsync(SortedSet<string> set)
    {
        List<string> modules;
        lock (_lock)
            modules = [.. _functions.Values.SelectMany(f => f.Modules).Where(m => set.Contains(TopLevel(m))).Distinct().Order(StringComparer.Ordinal)];
        try
        {
            await BuildAsync(set, modules).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ZygoteException or TimeoutException or ObjectDisposedException)
        {
            lock (_lock)
                _nodesWent = true;
            Log.BuildFailed(_logger, string.Join(',', set), e.Message);
        }
    }

    private async Task BuildAsync(SortedSet<string> set, IReadOnlyList<string> modules)
    {
        try
        {
            ImportCacheNode? parent;
            lock (_lock)
                parent = _nodes.Where(n => n.Zygote.IsAlive && n.Packages.IsProperSubsetOf(set)).MaxBy(n => n.Packages.Count);
            var from = parent?.Zygote ?? _spawner.Zygote;
            var (names, paths) = ForZygote(modules, _paths);
            var extra = names.Where(m => !from.Modules.Contains(m)).ToList();
            if (parent is not null)
                lock (_lock) parent.Live++; // not evicted while its child is forked
            Zygote zygote;
            try
            {
                zygote = await from.ForkAsync(extra, paths, _options.ForkTimeout, _options.Parked).ConfigureAwait(false);
            }
            finally
            {
                if (parent is not null)
                    lock (_lock) parent.Live--;
            }
            var node = new ImportCacheNode(zygote, parent, set) { MemoryBytes = zygote.MemoryBytes(), LastUsed = Environment.TickCount64 };
            bool keep;
            lock (_lock)
            {
                keep = !_disposed;
                if (keep)
                    _nodes.Add(node);
            }
            if (!keep)
            {
                zygote.Dispose();
                return;
            }
            Log.Built(_logger, zygote.Pid, string.Join(',', set), extra.Count, zygote.ImportMs, node.MemoryBytes >> 20);
            Trim();
        }
        finally
        {
            lock (_lock)
                _building.Remove(Key(set));
        }
    }

    private void DropDead()
    {
        foreach (var dead in _nodes.Where(n => !n.Zygote.IsAlive).ToList())
            Remove(dead, "died");
    }

    private void Remove(ImportCacheNode node, string why)
    {
        if (!_nodes.Remove(node))
            return;
        _nodesWent = true;
        // Its children stay: they are processes of their own, with every package they had.
        foreach (var child in _nodes.Where(n => n.Parent == node))
            child.Parent = node.Parent;
        Log.Dropped(_logger, node.Zygote.Pid, string.Join(',', node.Packages), why);
        node.Zygote.Dispose();
    }

    /// <summary>
    /// A module's package identity: its top-level name, prefixed with its install cache dir for one
    /// installed there ("/packages/alpha-1.0:alpha"), so two versions never match each other.
    /// </summary>
    private static string TopLevel(string module)
    {
        int colon = module.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? module.Split('.')[0] : module[..(colon + 1)] + module[(colon + 1)..].Split('.')[0];
    }

    /// <summary>
    /// What a zygote imports for modules as sandboxes report them ("numpy", "/packages/alpha-1.0:alpha"),
    /// and its sys.path: <paramref name="basePaths"/>, then the install cache dirs they come from.
    /// </summary>
    public static (IReadOnlyList<string> Modules, IReadOnlyList<string> Paths) ForZygote(IEnumerable<string> reported, IReadOnlyList<string> basePaths)
    {
        var names = new List<string>();
        var dirs = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var module in reported)
        {
            int colon = module.IndexOf(':', StringComparison.Ordinal);
            names.Add(colon < 0 ? module : module[(colon + 1)..]);
            if (colon >= 0)
                dirs.Add(module[..colon]);
        }
        return ([.. names.Distinct()], [.. basePaths, .. dirs]);
    }

    private static string Key(SortedSet<string> set) => string.Join(',', set);

    public ValueTask DisposeAsync()
    {
        List<ImportCacheNode> nodes;
        lock (_lock)
        {
            _disposed = true;
            nodes = [.. _nodes];
            _nodes.Clear();
        }
        // Leaves first: a child zygote is its parent's child, reaped by it.
        foreach (var node in nodes.OrderByDescending(n => n.Packages.Count))
            node.Zygote.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class LearnedFunction
    {
        public int Starts;
        public readonly HashSet<string> Modules = new(StringComparer.Ordinal);
        public readonly HashSet<string> Packages = new(StringComparer.Ordinal);
    }
}
