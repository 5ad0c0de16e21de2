using System.Globalization;
using System.Text.Json.Nodes;

namespace Thaw.Cli.Bench.Startup;

/// <summary>
/// `runc run` of /bin/true in the busybox rootfs: runc's default spec (new pid, mount, ipc, uts and
/// network namespaces; cgroups under /thawbench-runc), read-only root, one bundle per burst slot.
/// </summary>
internal sealed class RuncSystem : IStartupSystem
{
    private const string CgroupParent = "thawbench-runc";
    private readonly string _runc;
    private readonly string _dir;
    private readonly string _state;
    private long _next;

    public RuncSystem(string dir, string rootfs, int slots, Action<string> say)
    {
        _runc = PeerCommands.Require("runc", "runc", say);
        _dir = dir;
        _state = Path.Combine(dir, "state");
        Directory.CreateDirectory(_state);
        string template = Path.Combine(dir, "template");
        Directory.CreateDirectory(template);
        File.Delete(Path.Combine(template, "config.json"));
        PeerCommands.Run(_runc, ["spec", "--bundle", template]);
        var spec = JsonNode.Parse(File.ReadAllText(Path.Combine(template, "config.json")))!;
        spec["process"]!["terminal"] = false;
        spec["process"]!["args"] = new JsonArray("/bin/true");
        spec["root"] = new JsonObject { ["path"] = rootfs, ["readonly"] = true };
        for (int i = 0; i < slots; i++)
        {
            string bundle = Bundle(i);
            Directory.CreateDirectory(bundle);
            spec["linux"]!["cgroupsPath"] = $"/{CgroupParent}/slot{i.ToString(CultureInfo.InvariantCulture)}";
            File.WriteAllText(Path.Combine(bundle, "config.json"), spec.ToJsonString());
        }
    }

    public string Name => "runc";

    public double RunOnce(int slot)
    {
        string id = "thawbench-" + Interlocked.Increment(ref _next).ToString(CultureInfo.InvariantCulture);
        return PeerCommands.Time(_runc, ["--root", _state, "run", "--bundle", Bundle(slot), id]);
    }

    public void Settle() => Thread.Sleep(50);

    private string Bundle(int slot) => Path.Combine(_dir, "b" + slot.ToString(CultureInfo.InvariantCulture));

    public void Dispose() => RemoveEverything(_runc, _state, CgroupParent, _dir);

    /// <summary>A runc peer's leftovers: containers of an interrupted run, its cgroup parent in every hierarchy, its dir.</summary>
    internal static void RemoveEverything(string runc, string state, string cgroupParent, string dir)
    {
        try
        {
            foreach (var id in PeerCommands.Run(runc, ["--root", state, "list", "-q"]).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                PeerCommands.Run(runc, ["--root", state, "delete", "--force", id]);
        }
        catch (InvalidOperationException) { }
        CgroupLeftovers.Remove(cgroupParent);
        Directory.Delete(dir, recursive: true);
    }
}

/// <summary>
/// Removes a peer's empty cgroup parent (children first) from every cgroup mount, the named ones
/// too: runc and dockerd also make their cgroups in v1's name=systemd hierarchy.
/// </summary>
internal static class CgroupLeftovers
{
    public static bool Exists(string parent) => Mounts().Any(m => Directory.Exists(Path.Combine(m, parent)));

    public static void Remove(string parent)
    {
        foreach (var mount in Mounts())
        {
            var dir = new DirectoryInfo(Path.Combine(mount, parent));
            if (!dir.Exists)
                continue;
            foreach (var child in dir.EnumerateDirectories("*", SearchOption.AllDirectories).OrderByDescending(d => d.FullName.Length))
                TryRemove(child.FullName);
            TryRemove(dir.FullName);
        }
    }

    private static IEnumerable<string> Mounts() =>
        Thaw.Linux.Mounts.MountTable.Read().Entries.Where(e => e.FsType is "cgroup" or "cgroup2").Select(e => e.MountPoint).Distinct();

    private static void TryRemove(string dir)
    {
        try { Directory.Delete(dir); }
        catch (IOException) { }
    }
}
