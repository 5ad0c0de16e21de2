using System.Diagnostics;
using System.Globalization;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Processes;
using Thaw.Resources;

namespace Thaw.Tests.Support;

/// <summary>
/// `thaw serve` as its own process, on one naming (instance name and state dir): a thawd a test can
/// SIGKILL, and the census of what its instance runs. Whatever is still running on dispose is
/// stopped as an operator would (SIGTERM), killed only if that does not end it.
/// </summary>
internal sealed class ServeProcesses(ThawNaming naming) : IDisposable
{
    private readonly List<Process> _started = [];
    private readonly List<string> _dirs = [];

    public ThawNaming Naming { get; } = naming;

    /// <summary>Starts `thaw serve` (any free loopback port, pools of 2) with <paramref name="options"/>; returns once it said where it listens.</summary>
    public async Task<(Process Process, string Url)> StartAsync(params string[] options)
    {
        var serve = await Thaw.Cli.Client.ServeProcess.StartAsync(Naming.StateDir, Naming.Name, ["--pool-size", "2", "--log-level", "warning", .. options]);
        _started.Add(serve.Process);
        return (serve.Process, serve.Url);
    }

    /// <summary>As <see cref="StartAsync"/>, with thawd started in the cgroup2 directory <paramref name="cgroup"/>, as a service manager would.</summary>
    public async Task<(Process Process, string Url)> StartInCgroupAsync(string cgroup, params string[] options)
    {
        var serve = await Thaw.Cli.Client.ServeProcess.StartInCgroupAsync(cgroup, Naming.StateDir, Naming.Name, ["--pool-size", "2", "--log-level", "warning", .. options]);
        _started.Add(serve.Process);
        return (serve.Process, serve.Url);
    }

    /// <summary>
    /// Starts `thaw ARGUMENTS` as given (the naming comes from them: a config file, variables), with
    /// <paramref name="environment"/> added, through <paramref name="wrapper"/> (a command that execs its arguments) if given.
    /// </summary>
    public async Task<(Process Process, string Url)> StartWithAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, IReadOnlyList<string>? wrapper = null)
    {
        var serve = await Thaw.Cli.Client.ServeProcess.StartAsync(arguments, environment, wrapper);
        _started.Add(serve.Process);
        return (serve.Process, serve.Url);
    }

    /// <summary>A function directory (thaw.toml and code files), removed on dispose.</summary>
    public string FunctionDir(string toml, params (string Name, string Text)[] files)
    {
        string dir = TestInstance.NewTempDir("thaw-test-fn-");
        _dirs.Add(dir);
        File.WriteAllText(Path.Combine(dir, "thaw.toml"), toml);
        foreach (var (name, text) in files)
            File.WriteAllText(Path.Combine(dir, name), text);
        return dir;
    }

    /// <summary>Every process of the instance: in any of its cgroups (sandboxes, zygotes, parked children), or a zygote of its state dir.</summary>
    public List<int> InstanceProcesses() =>
        [.. CgroupHierarchy.Detect().MountPaths.Select(m => Path.Combine(m, Naming.Name)).Where(Directory.Exists)
            .SelectMany(d => Directory.EnumerateFiles(d, "cgroup.procs", SearchOption.AllDirectories))
            .SelectMany(ReadPids).Concat(Zygotes()).Distinct().Order()];

    /// <summary>Waits up to <paramref name="timeout"/> for the instance to have no process left; returns those still there.</summary>
    public async Task<List<int>> LeftAfterAsync(TimeSpan timeout)
    {
        var left = InstanceProcesses();
        for (var waited = Stopwatch.StartNew(); left.Count > 0 && waited.Elapsed < timeout; left = InstanceProcesses())
            await Task.Delay(20);
        return left;
    }

    /// <summary>The zygote processes of this instance's state dir (a child zygote is a fork: the same command line).</summary>
    public List<int> Zygotes() => LeakCensus.ZygotesOf(Naming.StateDir);

    public static int Parent(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 4)..].Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>A pid with its command line and state, for a failure message.</summary>
    public static string Describe(int pid)
    {
        try { return $"{pid} ({File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()}, state {File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1][..1]}, parent {Parent(pid)}, waiting in {File.ReadAllText($"/proc/{pid}/wchan")})"; }
        catch (IOException) { return pid.ToString(CultureInfo.InvariantCulture); }
    }

    /// <summary>The pids a cgroup.procs file lists; none if the cgroup was removed meanwhile.</summary>
    public static List<int> ReadPids(string procs)
    {
        try { return [.. File.ReadAllLines(procs).Where(l => l.Length > 0).Select(l => int.Parse(l, CultureInfo.InvariantCulture))]; }
        catch (IOException) { return []; }
    }

    public void Dispose()
    {
        // A failed assertion must not leave a thawd running: stop it as an operator would.
        StopAll();
        // Nor what a thawd the test killed left behind (mounts, cgroups, namespaces): the next start sweeps it.
        if (LeakCensus.MountsUnder(Naming.StateDir).Count > 0 || CgroupHierarchy.Detect().MountPaths.Any(m => Directory.Exists(Path.Combine(m, Naming.Name))))
        {
            StartAsync().GetAwaiter().GetResult();
            StopAll();
        }
        foreach (var process in _started)
            process.Dispose();
        foreach (var dir in _dirs)
            Directory.Delete(dir, recursive: true);
        if (Directory.Exists(Naming.StateDir) && LeakCensus.MountsUnder(Naming.StateDir).Count == 0)
            Directory.Delete(Naming.StateDir, recursive: true);
    }

    private void StopAll()
    {
        foreach (var process in _started.Where(p => !p.HasExited))
        {
            Signals.Terminate(process.Id);
            if (!process.WaitForExit(60_000))
                process.Kill();
        }
    }
}
