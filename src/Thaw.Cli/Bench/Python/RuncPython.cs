using System.Globalization;
using System.Text.Json.Nodes;
using Thaw.Cli.Bench.Startup;

namespace Thaw.Cli.Bench.Python;

/// <summary>
/// The usual platform: a fresh python3 in a runc container per call. The container's root holds the
/// host's /usr, /lib*, /bin and /etc read-only (the same interpreter and packages Thaw's sandboxes
/// use) and the function at /handler; runc's default namespaces and cgroups. Timed from `runc run`
/// to its exit, after the reply was printed. Each function has a bundle per slot, and each slot its
/// own cgroup, so that containers of one function running at once never share one (runc treats a
/// container's cgroup as that container's own and destroys it when the container ends).
/// </summary>
internal sealed class RuncPython : IDisposable
{
    private const string CgroupParent = "thawbench-runc-python";
    private static readonly string[] HostDirs = ["usr", "bin", "sbin", "lib", "lib64", "etc"];
    private readonly string _runc;
    private readonly string _dir;
    private readonly string _state;
    private long _next;

    /// <param name="dir">The peer's bundles, rootfs and runc state (removed at the end).</param>
    /// <param name="functions">The functions it runs, each a bundle per slot.</param>
    /// <param name="packages">The install cache to bind at /packages, as Thaw's sandboxes see it, or null.</param>
    /// <param name="say">Where notes go (installing runc).</param>
    /// <param name="slots">How many containers of one function may run at once (burst size).</param>
    public RuncPython(string dir, IEnumerable<BenchFunction> functions, string? packages, Action<string> say, int slots = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        _runc = PeerCommands.Require("runc", "runc", say);
        _dir = dir;
        _state = Path.Combine(dir, "state");
        Directory.CreateDirectory(_state);
        string rootfs = Path.Combine(dir, "rootfs");
        foreach (var sub in new[] { "handler", "packages", "proc", "dev", "tmp" })
            Directory.CreateDirectory(Path.Combine(rootfs, sub));
        // The host's layout as it is: merged-/usr symlinks (bin -> usr/bin) stay symlinks, real dirs get bound.
        foreach (var sub in HostDirs.Where(d => Directory.Exists("/" + d)))
        {
            if (new DirectoryInfo("/" + sub).LinkTarget is { } target)
                File.CreateSymbolicLink(Path.Combine(rootfs, sub), target);
            else
                Directory.CreateDirectory(Path.Combine(rootfs, sub));
        }
        string template = Path.Combine(dir, "template");
        Directory.CreateDirectory(template);
        PeerCommands.Run(_runc, ["spec", "--bundle", template]);
        foreach (var function in functions)
        {
            var spec = JsonNode.Parse(File.ReadAllText(Path.Combine(template, "config.json")))!;
            spec["process"]!["terminal"] = false;
            spec["process"]!["args"] = new JsonArray("/usr/bin/python3", "-I", "-S", "-c", function.FreshInterpreterMain);
            spec["process"]!["cwd"] = "/handler";
            spec["root"] = new JsonObject { ["path"] = rootfs, ["readonly"] = true };
            var mounts = spec["mounts"]!.AsArray();
            foreach (var sub in HostDirs.Where(d => Directory.Exists("/" + d) && !IsSymlink("/" + d)))
                mounts.Add(Bind("/" + sub, "/" + sub));
            mounts.Add(Bind(function.Dir, "/handler"));
            if (packages is not null)
                mounts.Add(Bind(packages, "/packages")); // the install cache, as Thaw's sandboxes see it
            for (int slot = 0; slot < slots; slot++)
            {
                spec["linux"]!["cgroupsPath"] = $"/{CgroupParent}/{function.Name}-{I(slot)}";
                string bundle = Bundle(function, slot);
                Directory.CreateDirectory(bundle);
                File.WriteAllText(Path.Combine(bundle, "config.json"), spec.ToJsonString());
            }
        }
    }

    public string Mode => "runc-python";

    /// <summary>One fresh interpreter in a new container, to its exit; thread-safe for distinct slots.</summary>
    public double ColdStart(BenchFunction function, int slot = 0)
    {
        string id = "thawbench-py-" + I(Interlocked.Increment(ref _next));
        return PeerCommands.Time(_runc, ["--root", _state, "run", "--bundle", Bundle(function, slot), id]);
    }

    private string Bundle(BenchFunction function, int slot) => Path.Combine(_dir, $"b-{function.Name}-{I(slot)}");

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static JsonObject Bind(string source, string destination) => new()
    {
        ["destination"] = destination,
        ["type"] = "bind",
        ["source"] = source,
        ["options"] = new JsonArray("rbind", "ro"),
    };

    private static bool IsSymlink(string path) => new DirectoryInfo(path).LinkTarget is not null;

    public void Dispose() => RuncSystem.RemoveEverything(_runc, _state, CgroupParent, _dir);
}
