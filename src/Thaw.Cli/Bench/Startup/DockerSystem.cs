using System.Diagnostics;

namespace Thaw.Cli.Bench.Startup;

/// <summary>
/// `docker run --rm --network none` of /bin/true from an image imported from the same busybox
/// rootfs. Uses a running daemon, or with --start-docker its own dockerd (data under the state dir,
/// no iptables or bridge changes, stopped by PID at the end, iptables checked and restored).
/// </summary>
internal sealed class DockerSystem : IStartupSystem
{
    private const string Image = "thawbench-busybox:latest";
    private const string CgroupParent = "thawbench-docker";
    private readonly string _docker;
    private readonly string _dir;
    private readonly Dictionary<string, string> _env = [];
    private readonly Process? _daemon;
    private readonly string? _iptablesBefore;
    private readonly Action<string> _say;
    private readonly bool _dockerCgroupExisted = CgroupLeftovers.Exists("docker");

    public DockerSystem(string dir, string rootfs, bool startDaemon, Action<string> say)
    {
        _say = say;
        _dir = dir;
        _docker = PeerCommands.Which("docker") ?? PeerCommands.Require("docker", "docker.io", say);
        Directory.CreateDirectory(dir);
        if (startDaemon)
        {
            string dockerd = PeerCommands.Require("dockerd", "docker.io", say);
            _iptablesBefore = IptablesSave();
            string socket = Path.Combine(dir, "docker.sock");
            _env["DOCKER_HOST"] = "unix://" + socket;
            var psi = new ProcessStartInfo(dockerd) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "--data-root", Path.Combine(dir, "data"), "--exec-root", Path.Combine(dir, "exec"), "--pidfile", Path.Combine(dir, "docker.pid"),
                "--host", "unix://" + socket, "--iptables=false", "--ip6tables=false", "--bridge=none", "--cgroup-parent", "/" + CgroupParent })
                psi.ArgumentList.Add(a);
            say("starting dockerd for the bench...");
            _daemon = Process.Start(psi)!;
            _daemon.OutputDataReceived += (_, _) => { };
            _daemon.ErrorDataReceived += (_, _) => { };
            _daemon.BeginOutputReadLine();
            _daemon.BeginErrorReadLine();
            var deadline = Stopwatch.StartNew();
            while (!Answers())
            {
                if (_daemon.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(60))
                {
                    Dispose();
                    throw new InvalidOperationException("dockerd did not come up within 60 s");
                }
                Thread.Sleep(200);
            }
        }
        else if (!Answers())
        {
            throw new InvalidOperationException("no Docker daemon answers; pass --start-docker to start one for the bench");
        }
        string tar = Path.Combine(dir, "rootfs.tar");
        PeerCommands.Run("tar", ["-C", rootfs, "-cf", tar, "."]);
        PeerCommands.Run(_docker, ["import", tar, Image], _env);
    }

    public string Name => "docker";

    public double RunOnce(int slot) => PeerCommands.Time(_docker, ["run", "--rm", "--network", "none", Image, "/bin/true"], _env);

    public void Settle() => Thread.Sleep(50);

    private bool Answers()
    {
        try { PeerCommands.Run(_docker, ["info", "--format", "{{.ServerVersion}}"], _env, timeout: TimeSpan.FromSeconds(20)); return true; }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException) { return false; }
    }

    private static string IptablesSave()
    {
        try { return PeerCommands.Run("iptables-save", []); }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { return ""; }
    }

    /// <summary>iptables-save output without its comment lines (timestamps) and packet counters.</summary>
    private static string Rules(string save) => string.Join('\n', save.Split('\n').Where(l => !l.StartsWith('#')).Select(l => l.StartsWith(':') ? l.Split(' ')[0] + " " + l.Split(' ')[1] : l));

    public void Dispose()
    {
        if (_daemon is null)
        {
            try { PeerCommands.Run(_docker, ["rmi", Image], _env); }
            catch (InvalidOperationException) { }
            return;
        }
        if (!_daemon.HasExited)
        {
            // By PID, as the daemon's own pidfile names it: SIGTERM, then SIGKILL.
            Process.Start("kill", ["-TERM", _daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!_daemon.WaitForExit(30_000))
                _daemon.Kill();
            _daemon.WaitForExit();
        }
        _daemon.Dispose();
        if (_iptablesBefore is { Length: > 0 } before && Rules(IptablesSave()) != Rules(before))
        {
            _say("dockerd changed iptables: restoring the rules from before the bench");
            string file = Path.Combine(_dir, "iptables.before");
            File.WriteAllText(file, before);
            PeerCommands.Run("iptables-restore", [], stdinFile: file);
        }
        CgroupLeftovers.Remove(CgroupParent);
        if (!_dockerCgroupExisted)
            CgroupLeftovers.Remove("docker"); // dockerd makes its default parent even when told another

        foreach (var mount in Thaw.Linux.Mounts.MountTable.Read().MountPointsUnder(_dir).OrderByDescending(m => m.Length))
            Thaw.Linux.Mounts.Mounts.UnmountTree(mount);
        Directory.Delete(_dir, recursive: true);
    }
}
