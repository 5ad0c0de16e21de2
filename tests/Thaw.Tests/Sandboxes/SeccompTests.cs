using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Linux.Seccomp;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;
using Thaw.Sandboxes;
using Thaw.Sandboxes.Zygotes;
using Thaw.Tests.Support;

namespace Thaw.Tests.Sandboxes;

/// <summary>One instance's pools and three spawners: the filter on (thawd's clone, and the Python zygote's fork), and off (the control).</summary>
public sealed class SeccompFixture : IAsyncLifetime
{
    private readonly TestInstance _instance = new("thaws");
    private ResourceHost _host = null!;

    public SandboxSpawner Cloned { get; private set; } = null!;

    public SandboxSpawner Forked { get; private set; } = null!;

    public SandboxSpawner Unfiltered { get; private set; } = null!;

    public Task InitializeAsync()
    {
        _host = ResourceHost.Start(new ThawOptions
        {
            Name = _instance.Naming.Name,
            StateDir = _instance.Naming.StateDir,
            Netns = new NetnsPoolOptions { Size = 6 },
            Cgroups = new CgroupPoolOptions { Size = 6 },
            Roots = new RootPoolOptions { Size = 6 },
        }, NullLogger.Instance);
        Cloned = new SandboxSpawner(_host, new SandboxOptions(), NullLogger.Instance);
        Forked = new SandboxSpawner(_host, new SandboxOptions { Via = SpawnVia.Fork }, NullLogger.Instance);
        Unfiltered = new SandboxSpawner(_host, new SandboxOptions { Zygote = new ZygoteOptions { Seccomp = false } }, NullLogger.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var spawner in new[] { Cloned, Forked, Unfiltered })
            await spawner.DisposeAsync();
        _host.Dispose();
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
        _instance.Dispose();
    }
}

/// <summary>
/// The sandboxes' seccomp filter, tried from inside for real: every syscall of <see cref="SandboxSeccomp.Rules"/>
/// fails with EPERM (clone3 with ENOSYS) on every spawn path, what programs need still works, and the
/// same calls without the filter reach the kernel (so these tests can fail).
/// </summary>
public sealed class SeccompTests(SeccompFixture fixture) : IClassFixture<SeccompFixture>
{
    private const int EPERM = 1;
    private const int ENOSYS = 38;

    // Arguments that are harmless when a call does reach the kernel (the control run): invalid
    // combinations, null pointers, bad descriptors, a 0 that is a no-op. Calls not named take zeros.
    private static readonly Dictionary<string, long[]> Arguments = new()
    {
        ["io_uring_setup"] = [1, 0], // entries 1, params NULL: EFAULT when reached
        ["keyctl"] = [0, -3, 0], // KEYCTL_GET_KEYRING_ID of the session keyring
        ["setns"] = [-1, 0],
        ["userfaultfd"] = [1], // UFFD_USER_MODE_ONLY: allowed to anyone without the filter
        ["open_tree"] = [-1, 0, 0],
        ["name_to_handle_at"] = [-1, 0, 0, 0, 0],
        ["clone"] = [0x10000000 | 0x200, 0, 0, 0, 0], // CLONE_NEWUSER | CLONE_FS: EINVAL when reached, never a child
        ["personality"] = [0x0040000], // ADDR_NO_RANDOMIZE
    };

    // Calls that, without the filter, an unprivileged sandbox reaches and gets something other than EPERM from.
    private static readonly string[] ReachedWithoutFilter =
        ["io_uring_setup", "add_key", "request_key", "name_to_handle_at", "userfaultfd", "perf_event_open", "setns", "unshare", "open_tree", "clone", "clone3", "personality"];

    /// <summary>cloned: by thawd, started at once; created: by the zygote's clone, started after; forked: by the Python zygote's fork.</summary>
    public static TheoryData<string> Paths => ["cloned", "created", "forked"];

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Every_sandbox_runs_under_the_filter(string path)
    {
        string status = await RunAsync(path, ["/bin/grep", "^Seccomp:", "/proc/self/status"]);
        Assert.Equal("Seccomp:\t2", status.Trim());
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Every_denied_syscall_fails_with_EPERM_and_clone3_with_ENOSYS(string path)
    {
        var results = await ProbeAsync(path, Syscalls());
        foreach (var (name, errno) in results)
            Assert.True(errno == (name == "clone3" ? ENOSYS : EPERM), $"{name}: errno {errno}");
        Assert.Contains("io_uring_setup", results.Keys);
        Assert.Contains("clone", results.Keys);
    }

    [Fact]
    public async Task Without_the_filter_the_same_calls_reach_the_kernel()
    {
        var results = await ProbeAsync("unfiltered", Syscalls().Where(s => ReachedWithoutFilter.Contains(s.Name)).ToList());
        Assert.Equal(ReachedWithoutFilter.Length, results.Count);
        foreach (var (name, errno) in results)
            Assert.True(errno != EPERM && errno != ENOSYS, $"{name} never reached the kernel: errno {errno}");
        Assert.Equal("Seccomp:\t0", (await RunAsync("unfiltered", ["/bin/grep", "^Seccomp:", "/proc/self/status"])).Trim());
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Threads_processes_memory_sockets_and_signals_still_work(string path)
    {
        const string script = """
            import mmap, os, signal, socket, subprocess, threading
            t = threading.Thread(target=lambda: None); t.start(); t.join()
            assert subprocess.run(["/bin/echo", "child"], capture_output=True).stdout == b"child\n"
            pid = os.fork()
            if pid == 0:
                os._exit(7)
            assert os.waitpid(pid, 0)[1] >> 8 == 7
            m = mmap.mmap(-1, 1 << 20); m[0] = 1; m.close()
            a, b = socket.socketpair(); a.send(b"x"); assert b.recv(1) == b"x"
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); c = socket.create_connection(s.getsockname()); c.close(); s.close()
            got = []
            signal.signal(signal.SIGUSR1, lambda *_: got.append(1)); os.kill(os.getpid(), signal.SIGUSR1); assert got
            print("ok")
            """;
        Assert.Equal("ok", (await RunAsync(path, ["/usr/bin/python3", "-c", script])).Trim());
    }

    /// <summary>Every rule's syscall this machine knows, with its number and harmless arguments.</summary>
    private static List<(string Name, int Number, long[] Args)> Syscalls() =>
        [.. SandboxSeccomp.Rules.Select(r => r.Syscall).Distinct()
            .Select(name => (Name: name, Number: Libseccomp.ResolveName(name), Args: Arguments.GetValueOrDefault(name, [])))
            .Where(s => s.Number >= 0)];

    /// <summary>Calls each syscall in the sandbox and returns the errno it got (0: it succeeded).</summary>
    private async Task<Dictionary<string, int>> ProbeAsync(string path, List<(string Name, int Number, long[] Args)> syscalls)
    {
        const string probe = """
            import ctypes, json, sys
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            out = {}
            for name, number, args in json.loads(sys.argv[1]):
                ctypes.set_errno(0)
                r = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in (args + [0] * 6)[:6]])
                out[name] = ctypes.get_errno() if r < 0 else 0
            print(json.dumps(out))
            """;
        string calls = JsonSerializer.Serialize(syscalls.Select(s => new object[] { s.Name, s.Number, s.Args }));
        string output = await RunAsync(path, ["/usr/bin/python3", "-c", probe, calls]);
        return JsonSerializer.Deserialize<Dictionary<string, int>>(output)!;
    }

    private async Task<string> RunAsync(string path, string[] argv)
    {
        var spec = new SandboxSpec { Argv = argv };
        Sandbox sandbox;
        if (path == "created")
        {
            sandbox = await fixture.Cloned.CreateAsync(spec);
            sandbox.Start();
        }
        else
        {
            sandbox = await (path switch { "forked" => fixture.Forked, "unfiltered" => fixture.Unfiltered, _ => fixture.Cloned }).RunAsync(spec);
        }
        var exit = await sandbox.Exited.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit.ExitCode == 0, $"{string.Join(' ', argv)}: {exit}; stderr: {sandbox.Stderr}");
        return sandbox.Stdout.ToString();
    }
}
