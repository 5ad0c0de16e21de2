using Microsoft.Extensions.Logging;
using Thaw.Linux.Cgroups;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Pooling;
using Thaw.Resources.Recovery;
using Thaw.Resources.Roots;

namespace Thaw.Resources;

/// <summary>
/// All of an instance's pools, started together: options checked, the state dir proved writable,
/// whatever a crashed predecessor left swept away, then each pool made. If any step fails, what was
/// made is removed again and one clear message says why; nothing is left half-created.
/// </summary>
public sealed partial class ResourceHost : IDisposable
{
    private readonly List<IDisposable> _owned = [];
    private readonly ILogger _logger;

    private ResourceHost(ThawNaming naming, ILogger logger)
    {
        Naming = naming;
        _logger = logger;
    }

    public ThawNaming Naming { get; }

    public NetnsPool Netns { get; private set; } = null!;

    public NetnsPool? BridgeNetns { get; private set; }

    public CgroupPool Cgroups { get; private set; } = null!;

    public RootPool Roots { get; private set; } = null!;

    /// <summary>Where the instance's cgroups live: a subtree of its own, or inside a cgroup delegated to thawd.</summary>
    public CgroupPlacement Placement { get; private set; } = CgroupPlacement.OwnSubtree("not started");

    /// <summary>What the start-up sweep removed (left by an earlier instance that crashed).</summary>
    public IReadOnlyList<string> Recovered { get; private set; } = [];

    public static ResourceHost Start(ThawOptions options, ILogger logger)
    {
        var naming = options.Validate();
        var hierarchy = CgroupHierarchy.Detect();
        hierarchy.ThrowIfMissing("memory", "cpu", "pids");
        EnsureWritable(naming.StateDir);
        var host = new ResourceHost(naming, logger);
        try
        {
            // Before the sweep: a second instance on the same state dir would sweep the first one's pools.
            host.Own(InstanceLock.Acquire(naming));
            host.Placement = CgroupPlacement.Decide(hierarchy, naming, options.Cgroups.Delegation);
            Log.Placement(logger, host.Placement.ToString());
            host.Recovered = Sweep(naming, hierarchy, host.Placement);
            if (host.Recovered.Count > 0)
                Log.Recovered(logger, host.Recovered.Count, string.Join(", ", host.Recovered.Take(10)));
            // Disposed after the pool (owned in reverse): thawd leaves its leaf once the tree is gone.
            host.Own(host.Placement.Enter());
            host.Cgroups = host.Own(new CgroupPool(naming, options.Cgroups, logger, hierarchy, host.Placement));
            host.Roots = host.Own(new RootPool(naming, options.Roots, logger));
            host.Netns = host.Own(new NetnsPool(naming, options.Netns, logger));
            if (options.EnableBridge)
                host.BridgeNetns = host.Own(new NetnsPool(naming, options.BridgeNetns, logger));
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    public IEnumerable<PoolStats> Stats() => Pools().Select(p => p.Stats());

    /// <summary>The pools, as their common abstraction (for levels, waiting until full, metrics).</summary>
    public IEnumerable<IResourcePool> Pools()
    {
        yield return Netns.Pool;
        if (BridgeNetns is not null) yield return BridgeNetns.Pool;
        yield return Cgroups.Pool;
        yield return Roots.Pool;
    }

    /// <summary>
    /// Removes everything an instance of this name and state dir left behind, in dependency order;
    /// cgroups below the <paramref name="placement"/>'s roots (null: every mount's root).
    /// </summary>
    public static IReadOnlyList<string> Sweep(ThawNaming naming, CgroupHierarchy hierarchy, CgroupPlacement? placement = null)
    {
        var removed = new List<string>();
        // Processes go first (with their cgroups): they may hold namespaces and mounts.
        removed.AddRange(CgroupRecovery.Sweep(naming, hierarchy, roots: placement?.SweepRoots(hierarchy)).Select(c => "cgroup " + c));
        int roots = RootRecovery.Sweep(naming);
        if (roots > 0)
            removed.Add($"roots {roots} under {naming.RootsDir}");
        removed.AddRange(NetnsRecovery.Sweep(naming));
        return removed;
    }

    private static void EnsureWritable(string stateDir)
    {
        try
        {
            Directory.CreateDirectory(stateDir);
            string probe = Path.Combine(stateDir, ".thaw-write-probe");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"state dir {stateDir} is not writable: {e.Message}", e);
        }
    }

    private T Own<T>(T item) where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            try { _owned[i].Dispose(); }
            catch (Exception e) { Log.DisposeFailed(_logger, _owned[i].GetType().Name, e); }
        }
        _owned.Clear();
        foreach (var dir in new[] { Naming.NetnsDir, Naming.RootsDir })
            if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
                Directory.Delete(dir);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "recovered {Count} objects left by an earlier instance: {Sample}")]
        public static partial void Recovered(ILogger logger, int count, string sample);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "cgroups: {Placement}")]
        public static partial void Placement(ILogger logger, string placement);

        [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "stopping {Pool} failed; the next start's sweep removes what is left")]
        public static partial void DisposeFailed(ILogger logger, string pool, Exception error);
    }
}
