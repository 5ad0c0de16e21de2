using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Spectre.Console;
using Thaw.Linux.Cgroups;
using Thaw.Linux.Mounts;
using Thaw.Linux.Netlink;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Sandboxes;

namespace Thaw.Cli.Commands;

/// <summary>
/// `thaw demo`: the platform end to end. First the service: thawd started in the background, the
/// example functions deployed and called cold and warm over HTTP, thawd stopped. Then one level
/// down: pools filled ahead of time, a zygote, sandboxes started from both in milliseconds, their
/// isolation and limits shown. Everything is removed at the end, and checked.
/// </summary>
internal static class DemoCommand
{
    private const string Name = "thawdemo";

    public static Command Create()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "Where pinned namespaces and roots live.", DefaultValueFactory = _ => "/var/lib/thaw" };
        var command = new Command("demo", "Show Thaw at work: start thawd, deploy the example functions (examples/) and call each cold and warm over HTTP with the cold start's phases, stop thawd; then run sandboxes straight from the pools and a zygote (isolation, limits, start latency per phase); check nothing is left.")
        {
            stateDir,
        };
        command.SetAction(parse => RunAsync(parse.GetValue(stateDir)!));
        return command;
    }

    private static async Task<int> RunAsync(string stateDir)
    {
        var console = AnsiConsole.Console;
        string serviceDir = Path.Combine(stateDir, "demo-service");
        console.Write(new Rule("[bold]the service: thawd, deploy, invoke[/]").LeftJustified());
        int thawdPid = await DemoService.ShowAsync(console, serviceDir, Name);
        int left = Verify(console, serviceDir, thawdPid, "thawd or zygote");
        if (left == 0 && Directory.Exists(serviceDir))
            Directory.Delete(serviceDir, recursive: true); // registry and code of the demo's functions
        console.Write(new Rule("[bold]one level down: pools, a zygote, sandboxes[/]").LeftJustified());
        stateDir = Path.Combine(stateDir, "demo");
        var options = new ThawOptions { Name = Name, StateDir = stateDir, EnableBridge = true };
        options.BridgeNetns.Subnet = "10.216.0.0/24";
        options.Netns.Size = options.BridgeNetns.Size = options.Cgroups.Size = options.Roots.Size = 8;
        string code = Path.Combine(stateDir, "code");
        Directory.CreateDirectory(code);
        File.WriteAllText(Path.Combine(code, "hello.txt"), "hello from /handler, bound read-only\n");

        using var loggers = CliLogging.Create(LogLevel.Warning);
        var logger = loggers.CreateLogger("thaw");
        var host = ResourceHost.Start(options, logger);
        int zygotePid = 0;
        try
        {
            console.Status().Start("crafting pools (network namespaces, cgroups, sandbox roots)...", _ =>
            {
                foreach (var pool in host.Pools())
                    pool.WaitUntilFull(TimeSpan.FromSeconds(60));
            });
            console.MarkupLine("[green]pools full[/]: every expensive kernel object exists before any request arrives.");
            await using var spawner = new SandboxSpawner(host, new SandboxOptions(), logger);
            zygotePid = spawner.Zygote.Pid;
            console.MarkupLine($"[green]zygote {zygotePid} ready[/]: its own cgroup, an empty netns, a root holding only the zygote; it spawns every sandbox.");

            await ShowIsolation(console, spawner, code);
            await ShowStartLatency(console, spawner);
            await ShowLimits(console, spawner);
        }
        finally
        {
            console.Status().Start("stopping: zygote, then every pooled resource...", _ => host.Dispose());
            Directory.Delete(code, recursive: true);
        }
        left += Verify(console, stateDir, zygotePid, "zygote");
        console.MarkupLine("Next: [blue]./thaw serve[/] runs thawd; [blue]./thaw deploy examples/hello[/] and [blue]./thaw invoke hello '{\"name\":\"you\"}'[/] call it; " +
            "[blue]./thaw run -- /bin/sh -c 'echo hi'[/] runs one sandbox; [blue]./thaw bench http|startup|python[/] measure against the floor, runc and Docker.");
        return left == 0 ? 0 : 1;
    }

    private static async Task ShowIsolation(IAnsiConsole console, SandboxSpawner spawner, string code)
    {
        const string script =
            "echo \"pid $$, hostname $(hostname), $(id)\"; " +
            "echo \"processes it can see: $(ls /proc | grep -c '^[0-9]')\"; " +
            "echo \"links: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')\"; " +
            "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr '\\t' ' '; " +
            "cat /handler/hello.txt; echo scratch > /tmp/x && echo '/tmp is writable'; " +
            "touch /usr/x 2>/dev/null || echo '/usr is read-only'; ls /root 2>/dev/null || echo 'no /root, no /var: only its own root'";
        var sandbox = await spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", script], CodeDir = code, Network = SandboxNetwork.Bridge, Hostname = "thaw-demo" });
        var exit = await sandbox.Exited;
        console.Write(new Panel(Markup.Escape((sandbox.Stdout.ToString() + sandbox.Stderr).TrimEnd()))
            .Header($"a sandbox (bridge netns {sandbox.Netns.Address}, cgroup {sandbox.Cgroup.RelativePath}): {exit}"));
    }

    private static async Task ShowStartLatency(IAnsiConsole console, SandboxSpawner spawner)
    {
        var table = new Table().Title("sandboxed /bin/true, one after another: where the time goes (ms)")
            .AddColumns("sandbox", "pool claims (netns, cgroup, root)", "zygote: spawn, enter, exec", "program runs, exits", "request → exit");
        for (int i = 1; i <= 8; i++)
        {
            var sandbox = await spawner.RunAsync(new SandboxSpec { Argv = ["/bin/true"] });
            await sandbox.Exited;
            var t = sandbox.Timings;
            table.AddRow(I(i), Ms(t.Requested, t.Claimed), Ms(t.Claimed, t.Started), Ms(t.Started, t.Exited), Ms(t.Requested, t.Exited));
        }
        console.Write(table);
    }

    private static async Task ShowLimits(IAnsiConsole console, SandboxSpawner spawner)
    {
        var table = new Table().Title("limits hold").AddColumns("sandbox", "limit", "what happened");
        var hog = await spawner.RunAsync(new SandboxSpec
        {
            Argv = ["/usr/bin/python3", "-c", "x = bytearray(512 << 20)"],
            Limits = new CgroupLimits(48L << 20, 1.0, 32),
        });
        table.AddRow("allocates 512 MiB", "memory 48 MiB", Markup.Escape((await hog.Exited).ToString()));
        var bomb = await spawner.RunAsync(new SandboxSpec
        {
            Argv = ["/usr/bin/python3", "-c", "import os, time\nn = 0\ntry:\n    for i in range(100):\n        if os.fork() == 0:\n            time.sleep(2); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print(f'{n} forks, then: {e.strerror}')"],
            Limits = new CgroupLimits(64L << 20, 1.0, 16),
        });
        await bomb.Exited;
        table.AddRow("forks 100 sleepers", "pids 16", Markup.Escape(bomb.Stdout.ToString().Trim()));
        var sleeper = await spawner.RunAsync(new SandboxSpec { Argv = ["/bin/sleep", "60"], Timeout = TimeSpan.FromMilliseconds(300) });
        table.AddRow("sleeps 60 s", "timeout 300 ms", Markup.Escape((await sleeper.Exited).ToString()));
        console.Write(table);
    }

    /// <summary>Counts what is left of the instance under <paramref name="stateDir"/>: mounts, links, cgroups, and the process it ran.</summary>
    private static int Verify(IAnsiConsole console, string stateDir, int pid, string what)
    {
        int mounts = MountTable.Read().MountPointsUnder(stateDir).Count;
        using var netlink = new NetlinkSocket();
        int links = netlink.ListLinks().Count(l => l.Name.StartsWith(Name, StringComparison.Ordinal));
        int cgroups = CgroupHierarchy.Detect().MountPaths.Count(m => Directory.Exists(Path.Combine(m, Name)));
        int processes = (pid > 0 && Directory.Exists($"/proc/{pid}") ? 1 : 0) + ZygotesUnder(stateDir);
        int left = mounts + links + cgroups + processes;
        console.MarkupLine(left == 0
            ? $"[green]stopped; nothing left behind[/] (no {what} process, no mounts under {stateDir}, no {Name} links or cgroups)."
            : $"[red]left behind: {mounts} mounts, {links} links, {cgroups} cgroups, {processes} processes[/]");
        return left;
    }

    /// <summary>Zygote processes whose command line names this state dir (a zygote outliving thawd would be a leak).</summary>
    private static int ZygotesUnder(string stateDir)
    {
        int count = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                string cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmdline.Contains("zygote.py", StringComparison.Ordinal) && cmdline.Contains(stateDir + "/", StringComparison.Ordinal))
                    count++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return count;
    }

    private static string Ms(long from, long to) =>
        SandboxTimings.Ms(from, to).ToString("0.00", CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}
