using Microsoft.Extensions.Logging;
using Thaw.Linux;
using Thaw.Linux.Cgroups;
using Thaw.Resources.Pooling;

namespace Thaw.Resources.Cgroups;

/// <summary>
/// Pre-created sandbox cgroups (SOCK's cgroup pool): a claim pops one and writes the sandbox's
/// limits, a release empties and recycles it in the background. Nothing is left behind on dispose.
/// </summary>
public sealed partial class CgroupPool : IDisposable
{
    private readonly CgroupFactory _factory;
    private readonly CgroupPoolOptions _options;

    /// <summary>The limits a pooled cgroup holds until a claim sets others.</summary>
    public CgroupLimits DefaultLimits => _options.DefaultLimits;
    private readonly ThawNaming _naming;
    private readonly ILogger _logger;

    /// <param name="naming">The instance whose "&lt;CgroupName&gt;" directory holds the pool.</param>
    /// <param name="options">Size and default limits; validated here.</param>
    /// <param name="logger">For pool events.</param>
    /// <param name="hierarchy">The detected hierarchy; null detects it from /proc/self/mountinfo.</param>
    /// <param name="placement">Where the tree goes; null: a subtree of its own at each mount's root.</param>
    public CgroupPool(ThawNaming naming, CgroupPoolOptions options, ILogger logger, CgroupHierarchy? hierarchy = null, CgroupPlacement? placement = null)
    {
        ArgumentNullException.ThrowIfNull(naming);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _naming = naming;
        _options = options;
        _logger = logger;
        Layout = CgroupLayout.From(hierarchy ?? CgroupHierarchy.Detect(), placement);
        _factory = new CgroupFactory(Layout, naming, options);
        _factory.CreateParents();
        Log.Started(logger, naming.Name, Layout);
        if (options.FavorDynamicModifications)
            FavorDynamicModifications();
        if (Layout.Freezer is null)
            Log.NoFreezer(logger, naming.Name);
        Pool = new ResourcePool<SandboxCgroup>("cgroup", _factory, options.Size, logger);
    }

    public CgroupLayout Layout { get; }

    /// <summary>Joins after idle without an RCU grace period: see <see cref="CgroupDynmods"/>.</summary>
    private void FavorDynamicModifications()
    {
        try
        {
            switch (CgroupDynmods.Enable())
            {
                case CgroupDynmods.Outcome.TurnedOn:
                    Log.DynmodsOn(_logger, _naming.Name);
                    break;
                case CgroupDynmods.Outcome.NoCgroup2Mount:
                    Log.DynmodsUnavailable(_logger, _naming.Name, "no cgroup2 mount on this host");
                    break;
            }
        }
        catch (LinuxException e)
        {
            // A read-only /sys/fs/cgroup (a container) or a kernel before 6.0: slower joins, nothing worse.
            Log.DynmodsUnavailable(_logger, _naming.Name, e.Message);
        }
    }

    /// <summary>Whether claimed cgroups can be frozen (the handler cache pauses idle sandboxes this way).</summary>
    public bool CanFreeze => Layout.Freezer is not null;

    public ResourcePool<SandboxCgroup> Pool { get; }

    /// <summary>The instance's parent cgroup directory in each hierarchy.</summary>
    public IReadOnlyList<string> ParentDirectories => _factory.ParentDirectories;

    /// <summary>The parent directory whose PSI files cover every sandbox and zygote: on a pure cgroup2 layout only (v1 keeps pressure per host, not per cgroup).</summary>
    public string? PressureDirectory => Layout.Hierarchies is [{ Version: 2 }] ? ParentDirectories[0] : null;

    /// <summary>
    /// Takes a cgroup and writes <paramref name="limits"/> into it. Null keeps the defaults, which
    /// every pooled cgroup already holds: no write on the request path.
    /// </summary>
    public SandboxCgroup Claim(CgroupLimits? limits = null)
    {
        limits?.Validate(_options.CpuPeriodMicroseconds);
        var cgroup = Pool.Claim();
        if (limits is null || limits == cgroup.Limits)
            return cgroup;
        try
        {
            cgroup.ApplyLimits(limits, _options.CpuPeriodMicroseconds);
            return cgroup;
        }
        catch (Exception e)
        {
            // The recycle puts the defaults back, so a half-written cgroup never reaches a sandbox.
            Pool.Release(cgroup);
            throw new InvalidOperationException($"cgroup {cgroup.RelativePath}: cannot apply {limits}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="limits"/> into a cgroup already claimed with the defaults (a parked
    /// child's, joined while it waited). If the kernel refuses, the cgroup stays the caller's to release.
    /// </summary>
    public void Fit(SandboxCgroup cgroup, CgroupLimits? limits)
    {
        if (limits is null || limits == cgroup.Limits)
            return;
        limits.Validate(_options.CpuPeriodMicroseconds);
        try
        {
            cgroup.ApplyLimits(limits, _options.CpuPeriodMicroseconds);
        }
        catch (Exception e) when (e is not InvalidOperationException)
        {
            throw new InvalidOperationException($"cgroup {cgroup.RelativePath}: cannot apply {limits}: {e.Message}", e);
        }
    }

    /// <summary>Gives a cgroup back; its processes are killed and it is recycled off the caller's path.</summary>
    public void Release(SandboxCgroup cgroup) => Pool.Release(cgroup);

    public PoolStats Stats() => Pool.Stats();

    /// <summary>Destroys every cgroup, lent out or idle, then the instance's parent directories.</summary>
    public void Dispose()
    {
        Pool.Dispose();
        try { _factory.RemoveParents(); }
        catch (Exception e) { Log.RemoveParentsFailed(_logger, _naming.Name, e); }
    }
}
