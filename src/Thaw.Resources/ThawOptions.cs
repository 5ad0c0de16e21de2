using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;

namespace Thaw.Resources;

/// <summary>Everything the resource layer needs to start, with the defaults a single host wants.</summary>
public sealed class ThawOptions
{
    /// <summary>Instance name: prefix of every kernel object Thaw makes ("thaw" → bridge thaw0, cgroup thaw/...).</summary>
    public string Name { get; set; } = "thaw";

    /// <summary>Where pinned namespaces and sandbox roots live; recovery sweeps it at start.</summary>
    public string StateDir { get; set; } = "/var/lib/thaw";

    /// <summary>Loopback-only namespaces, the default for sandboxes.</summary>
    public NetnsPoolOptions Netns { get; set; } = new() { Size = 16 };

    /// <summary>Bridge-mode namespaces; the bridge is made only when this is enabled.</summary>
    public bool EnableBridge { get; set; }

    public NetnsPoolOptions BridgeNetns { get; set; } = new() { Size = 8, Mode = NetnsMode.Bridge };

    public CgroupPoolOptions Cgroups { get; set; } = new();

    public RootPoolOptions Roots { get; set; } = new();

    /// <summary>Checks every option and throws one message listing all that are wrong.</summary>
    public ThawNaming Validate()
    {
        var errors = new List<string>();
        ThawNaming? naming = null;
        try { naming = new ThawNaming(Name, StateDir); }
        catch (ArgumentException e) { errors.Add(e.Message); }
        Try(errors, () => Netns.Validate());
        if (Netns.Mode != NetnsMode.None)
            errors.Add("the default netns pool must be mode none; use the bridge pool for bridge mode");
        if (EnableBridge)
            Try(errors, () => BridgeNetns.Validate());
        Try(errors, () => Cgroups.Validate());
        Try(errors, () => Roots.Validate());
        if (errors.Count > 0)
            throw new ArgumentException("invalid configuration:\n  - " + string.Join("\n  - ", errors));
        return naming!;
    }

    private static void Try(List<string> errors, Action check)
    {
        try { check(); }
        catch (ArgumentException e) { errors.Add(e.Message); }
    }
}
