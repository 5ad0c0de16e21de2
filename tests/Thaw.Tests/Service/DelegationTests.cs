using System.Diagnostics;
using System.Net;
using System.Text;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Processes;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>
/// thawd as a systemd service with Delegate=yes, imitated as the cgroup v2 VM's README shows: a
/// cgroup below the root that thawd is started in (the xattr systemd 251+ sets marks it delegated).
/// Real thawd processes, real sandboxes; the cgroup tree outside the delegated cgroup is listed
/// before and after and must not change.
/// </summary>
public sealed class DelegationTests : IDisposable
{
    private static readonly string[] Controllers = ["cpu", "memory", "pids"];

    private readonly ThawNaming _naming = TestInstance.NewNaming("thawdl");
    private readonly ServeProcesses _serve;
    private readonly string _mount = CgroupHierarchy.Detect().UnifiedMount ?? "/sys/fs/cgroup";
    private readonly string _service;

    public DelegationTests()
    {
        _serve = new ServeProcesses(_naming);
        _service = Path.Combine(_mount, _naming.Name + "-svc");
    }

    [FactOnPureCgroup2]
    public async Task A_delegated_cgroup_holds_everything_thawd_makes_and_is_left_as_found()
    {
        var (outside, found) = MakeService(markDelegated: true);

        var (serve, url) = await _serve.StartInCgroupAsync(_service);
        string daemonLeaf = Path.Combine(_service, _naming.Name + "-daemon");
        Assert.Equal(Relative(daemonLeaf), CgroupMembership.UnifiedPath(serve.Id));
        Assert.Empty(CgroupFs.ReadProcs(_service)); // no internal process: it hands controllers to its children
        Assert.Subset(Words(Path.Combine(_service, "cgroup.subtree_control")).ToHashSet(), Controllers.ToHashSet());
        string tree = Path.Combine(_service, _naming.CgroupName);
        await CallsRunInAsync(url, tree);
        Assert.Equal(outside, Outside());
        // cgroup2 keeps pressure per cgroup: thawd exports its sandboxes' and zygotes'.
        using (var http = new HttpClient { BaseAddress = new Uri(url) })
            Assert.Contains("thaw_pressure_stalled_seconds_total{resource=\"memory\",kind=\"some\"}", await http.GetStringAsync("metrics"), StringComparison.Ordinal);

        // SIGKILL, then a restart from inside the leaf (the delegated cgroup itself now hands out
        // controllers, so nothing may join it): the sweep finds the orphans inside the delegated cgroup.
        var orphans = InstanceTreeProcesses(tree);
        Assert.NotEmpty(orphans);
        serve.Kill();
        await serve.WaitForExitAsync();
        var (again, url2) = await _serve.StartInCgroupAsync(daemonLeaf);
        Assert.Equal(Relative(daemonLeaf), CgroupMembership.UnifiedPath(again.Id));
        Assert.DoesNotContain(orphans, IsAlive);
        await CallsRunInAsync(url2, tree);
        Assert.Equal(outside, Outside());

        Assert.True(Signals.Terminate(again.Id));
        await again.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(300));
        Assert.Equal(0, again.ExitCode);
        Assert.Equal(found, State(_service));
        Assert.Equal(outside, Outside());
    }

    [FactOnPureCgroup2]
    public async Task An_unmarked_cgroup_is_used_only_when_told_to()
    {
        var (outside, found) = MakeService(markDelegated: false);

        // Not marked: thawd stays where it was put and makes a subtree of its own at the root, as by hand.
        var (serve, url) = await _serve.StartInCgroupAsync(_service);
        Assert.Equal(Relative(_service), CgroupMembership.UnifiedPath(serve.Id));
        await CallsRunInAsync(url, Path.Combine(_mount, _naming.CgroupName));
        Assert.True(Signals.Terminate(serve.Id));
        await serve.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(300));
        Assert.False(Directory.Exists(Path.Combine(_mount, _naming.CgroupName)));

        // --cgroup-delegation use: the same cgroup, taken as delegated.
        var (used, url2) = await _serve.StartInCgroupAsync(_service, "--cgroup-delegation", "use");
        Assert.Equal(Relative(Path.Combine(_service, _naming.Name + "-daemon")), CgroupMembership.UnifiedPath(used.Id));
        await CallsRunInAsync(url2, Path.Combine(_service, _naming.CgroupName));
        Assert.Equal(outside, Outside());
        Assert.True(Signals.Terminate(used.Id));
        await used.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(300));
        Assert.Equal(0, used.ExitCode);
        Assert.Equal(found, State(_service));
    }

    /// <summary>
    /// The service's cgroup, made as systemd makes a Delegate=yes unit's: the root hands it the
    /// controllers, and (systemd 251+) the trusted.delegate xattr marks it. Returns the tree outside
    /// it and its own state, as found.
    /// </summary>
    private (List<string> Outside, string Found) MakeService(bool markDelegated)
    {
        string rootControl = Path.Combine(_mount, "cgroup.subtree_control");
        foreach (var controller in Controllers.Except(Words(rootControl)))
            CgroupFs.Write(rootControl, "+" + controller);
        CgroupFs.CreateDirectory(_service);
        if (markDelegated)
            RunPython("import os, sys; os.setxattr(sys.argv[1], 'trusted.delegate', b'1')", _service);
        return (Outside(), State(_service));
    }

    /// <summary>A Python and an exec function, deployed and called: each reports the cgroup it ran in, which must be below <paramref name="tree"/>.</summary>
    private async Task CallsRunInAsync(string url, string tree)
    {
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(120) };
        await DeployAsync(http, "where", "", ("f.py", "def f(event):\n    return open('/proc/self/cgroup').read()\n"));
        await DeployAsync(http, "cat", "runtime = \"exec\"\ncommand = [\"cat\", \"/proc/self/cgroup\"]\n");
        foreach (var function in (string[])["where", "cat"])
        {
            using var reply = await http.PostAsync($"v1/functions/{function}/invoke", new StringContent("{}", Encoding.UTF8, "application/json"));
            string body = await reply.Content.ReadAsStringAsync();
            Assert.True(reply.StatusCode == HttpStatusCode.OK, $"{function}: {(int)reply.StatusCode} {body}");
            Assert.Contains("0::" + Relative(tree) + "/sb-", body, StringComparison.Ordinal);
        }
    }

    private async Task DeployAsync(HttpClient http, string name, string toml, params (string Name, string Text)[] files)
    {
        string dir = _serve.FunctionDir($"name = \"{name}\"\n" + toml, files);
        using var deployed = await http.PutAsync($"v1/functions/{name}", new ByteArrayContent(ThawdInstance.TarGz(dir)));
        Assert.True(deployed.IsSuccessStatusCode, $"deploy of {name}: {await deployed.Content.ReadAsStringAsync()}");
    }

    /// <summary>
    /// Every cgroup outside the service's, with the controllers it hands down. Other test classes'
    /// instances (top-level "thaw…" directories other than this test's own name) come and go meanwhile: left out.
    /// </summary>
    private List<string> Outside() =>
        [.. Directory.EnumerateDirectories(_mount)
            .Where(d => d != _service && (!Path.GetFileName(d).StartsWith("thaw", StringComparison.Ordinal) || Path.GetFileName(d) == _naming.CgroupName))
            .SelectMany(d => Directory.EnumerateDirectories(d, "*", SearchOption.AllDirectories).Prepend(d))
            .Prepend(_mount)
            .Select(d => $"{d}: {string.Join(' ', Words(Path.Combine(d, "cgroup.subtree_control")))}")
            .Order(StringComparer.Ordinal)];

    /// <summary>A cgroup's children, processes, controllers handed down and xattr mark.</summary>
    private static string State(string dir) =>
        $"children [{string.Join(' ', Directory.EnumerateDirectories(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal))}], "
        + $"procs [{string.Join(' ', CgroupFs.ReadProcs(dir))}], subtree_control [{string.Join(' ', Words(Path.Combine(dir, "cgroup.subtree_control")))}], "
        + $"delegated {CgroupMembership.IsMarkedDelegated(dir)}";

    private static List<int> InstanceTreeProcesses(string tree) =>
        [.. Directory.EnumerateFiles(tree, "cgroup.procs", SearchOption.AllDirectories).SelectMany(ServeProcesses.ReadPids)];

    private static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}");

    private string Relative(string dir) => "/" + Path.GetRelativePath(_mount, dir);

    private static string[] Words(string file) =>
        File.Exists(file) ? CgroupFs.Read(file).Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToArray() : [];

    private static void RunPython(string code, params string[] args)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardError = true };
        foreach (var arg in (string[])["-c", code, .. args])
            start.ArgumentList.Add(arg);
        using var python = Process.Start(start)!;
        string error = python.StandardError.ReadToEnd();
        python.WaitForExit();
        Assert.True(python.ExitCode == 0, $"python3 -c {code}: {error}");
    }

    public void Dispose()
    {
        _serve.Dispose();
        // What a failed test's thawd left inside the service's cgroup: swept as a restart would, then the cgroup goes.
        if (Directory.Exists(_service))
        {
            CgroupRecovery.Sweep(_naming, CgroupHierarchy.Detect(), roots: [_service]);
            string leaf = Path.Combine(_service, _naming.Name + "-daemon");
            foreach (var c in Words(Path.Combine(_service, "cgroup.subtree_control")))
                CgroupFs.Write(Path.Combine(_service, "cgroup.subtree_control"), "-" + c);
            if (Directory.Exists(leaf))
                CgroupFs.RemoveDirectory(leaf, TimeSpan.FromSeconds(5));
            CgroupFs.RemoveDirectory(_service, TimeSpan.FromSeconds(5));
        }
    }
}
