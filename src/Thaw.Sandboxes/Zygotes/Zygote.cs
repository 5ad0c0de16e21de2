using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Thaw.Linux.Sockets;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;

namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// A running zygote: the python3 process, the lean sandbox it lives in (its own cgroup, an empty
/// network namespace, a root whose /handler holds only the zygote folder) and thawd's connection to
/// it. The only process thawd starts itself; every sandbox is forked or spawned by a zygote.
/// </summary>
public sealed partial class Zygote : IDisposable
{
    private const string SocketName = "zygote.sock";

    private readonly ResourceHost _host;
    private readonly ILogger _logger;
    // The root zygote's own process and lean sandbox; a child zygote (forked from a parent) has
    // none of its own: it lives in its root's sandbox and is its parent's child.
    private readonly Process? _process;
    private readonly PooledNetns _netns;
    private readonly SandboxCgroup _cgroup;
    private readonly SandboxRoot _root;
    private long _nextChild;
    // Bounds of this zygote's parked children; a child zygote takes the same, with its own floor.
    private readonly ParkPolicy _park;
    private int _disposed;

    private Zygote(ResourceHost host, ILogger logger, Process? process, int pid, PooledNetns netns, SandboxCgroup cgroup, SandboxRoot root,
        ZygoteConnection connection, Zygote? parent, IReadOnlyList<string> modules, ParkPolicy park)
    {
        _park = park;
        _host = host;
        _logger = logger;
        _process = process;
        _netns = netns;
        _cgroup = cgroup;
        _root = root;
        Connection = connection;
        Pid = pid;
        Parent = parent;
        Modules = modules;
        connection.Closed += OnClosed;
    }

    public int Pid { get; }

    /// <summary>
    /// The zygote's own small mount namespace (its root only), opened once: thawd's own exec spawns
    /// enter it before making their copy (<see cref="SpawnVia.Thawd"/>).
    /// </summary>
    internal Thaw.Linux.SafeFd MountNamespace => _mountNamespace ??= Thaw.Linux.Files.FileDescriptors.OpenRead($"/proc/{Pid}/ns/mnt");

    private Thaw.Linux.SafeFd? _mountNamespace;

    /// <summary>The zygote this one was forked from; null for the root zygote (the bare runtime).</summary>
    public Zygote? Parent { get; }

    /// <summary>Every module imported into this zygote on top of the bare runtime (its parents' too).</summary>
    public IReadOnlyList<string> Modules { get; }

    /// <summary>The modules asked for that failed to import, each with why.</summary>
    public IReadOnlyList<string> FailedModules { get; private init; } = [];

    /// <summary>A Morula zygote: its sandboxes are fresh interpreters, never forks of it.</summary>
    public bool IsFresh { get; private init; }

    /// <summary>How long this zygote's own imports took.</summary>
    public double ImportMs { get; private init; }

    /// <summary>Children forked ahead that thawd can hand a spawn to directly (pids, oldest first).</summary>
    public IReadOnlyList<int> ParkedPids => Connection.ParkedPids;

    /// <summary>How many children the zygote keeps parked now: sized by recent demand (<see cref="ZygoteOptions.MaxParked"/>).</summary>
    public int ParkTarget => Connection.ParkTarget;

    /// <summary>False once the zygote died or was disposed: a new one must be started.</summary>
    public bool IsAlive => Connection.IsOpen && Volatile.Read(ref _disposed) == 0;

    /// <summary>Raised (on the connection's thread) when the zygote dies without being disposed.</summary>
    public event Action<Zygote>? Crashed;

    internal ZygoteConnection Connection { get; }

    /// <summary>The zygote's cgroup (to measure its memory, or kill it in tests).</summary>
    public SandboxCgroup Cgroup => _cgroup;

    /// <summary>Claims the zygote's sandbox from the pools, starts python3 in it and connects.</summary>
    public static Zygote Start(ResourceHost host, ZygoteOptions options, ILogger logger)
    {
        options.Validate();
        var netns = host.Netns.Claim();
        SandboxCgroup? cgroup = null;
        SandboxRoot? root = null;
        Process? process = null;
        try
        {
            cgroup = host.Cgroups.Claim(host.Cgroups.DefaultLimits with { MemoryLimitBytes = options.MemoryLimitBytes });
            root = host.Roots.Claim(options.Directory, options.PackagesDir);
            // Loaded before the zygote chroots, so the host path.
            string? native = File.Exists(options.NativePath) ? options.NativePath : null;
            if (options.Seccomp && native is null)
                throw new ZygoteException($"sandboxes' seccomp filter needs libthawspawn, and {options.NativePath} does not exist (build it: ./thaw --help)");
            string? seccomp = options.Seccomp ? Convert.ToHexString(SandboxSeccomp.Program.Bpf) : null;
            var config = new ZygoteConfig("/host/" + SocketName, root.Path, netns.Path, cgroup.ProcsFiles, native, options.Parked, options.Prefault,
                WatchStdin: true, seccomp);
            var psi = new ProcessStartInfo(options.Python)
            {
                // -I: no user site or PYTHON* variables; -S: no site import (faster, nothing to find).
                ArgumentList = { "-I", "-S", options.ScriptPath, JsonSerializer.Serialize(config, ZygoteConfigJson.Default.ZygoteConfig) },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            process = Process.Start(psi) ?? throw new ZygoteException($"cannot start {options.Python}");
            ForwardStderr(process, logger);
            WaitUntilReady(process, options.StartTimeout);
            var connection = ZygoteConnection.Connect(Path.Combine(root.HostDir, SocketName), $"zygote-{process.Id}", host.Cgroups, options.ParkPolicy);
            var zygote = new Zygote(host, logger, process, process.Id, netns, cgroup, root, connection, parent: null, modules: [], options.ParkPolicy);
            Log.Started(logger, zygote.Pid, native is not null);
            return zygote;
        }
        catch
        {
            if (process is not null)
            {
                try { process.Kill(); } catch (InvalidOperationException) { }
                process.WaitForExit(5000);
                process.Dispose();
            }
            if (root is not null) host.Roots.Release(root);
            if (cgroup is not null) host.Cgroups.Release(cgroup);
            host.Netns.Release(netns);
            throw;
        }
    }

    private static void WaitUntilReady(Process process, TimeSpan timeout)
    {
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(timeout))
            throw new ZygoteException($"the zygote did not get ready within {timeout.TotalSeconds:0.#} s");
        if (line.Result is not { } ready || !ready.StartsWith("ready ", StringComparison.Ordinal))
        {
            process.WaitForExit(2000);
            string code = process.HasExited ? $" (exit code {process.ExitCode})" : "";
            throw new ZygoteException($"the zygote failed to start{code}; its stderr is in thawd's log");
        }
    }

    private static void ForwardStderr(Process process, ILogger logger)
    {
        int pid = process.Id;
        process.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrEmpty(e.Data))
                Log.Stderr(logger, pid, e.Data);
        };
        process.BeginErrorReadLine();
    }

    /// <summary>
    /// Forks a child zygote that imports <paramref name="modules"/> (with <paramref name="paths"/> in
    /// front of sys.path) on top of what this one holds: a node of the import cache. Completes once
    /// the child answered hello, after its imports. It keeps <paramref name="parked"/> children forked ahead.
    /// <paramref name="fresh"/> makes it a Morula zygote: it imports nothing itself; each of its
    /// sandboxes is a freshly exec'd interpreter (its own address space layout) that imports the modules.
    /// </summary>
    public async Task<Zygote> ForkAsync(IReadOnlyList<string> modules, IReadOnlyList<string> paths, TimeSpan timeout, int parked = 1, bool fresh = false)
    {
        ObjectDisposedException.ThrowIf(!IsAlive, this);
        var (here, there) = FdPassing.SocketPair(System.Net.Sockets.SocketType.Seqpacket);
        System.Net.Sockets.Socket? socket = null;
        try
        {
            string id = $"z{Pid}-{Interlocked.Increment(ref _nextChild)}";
            var forked = await Connection.RequestAsync(new ZygoteRequest { Op = "fork-zygote", Id = id, Modules = modules, Paths = paths, Parked = parked, Fresh = fresh ? true : null, Fds = ["conn"] }, [there])
                .WaitAsync(timeout).ConfigureAwait(false);
            there.Dispose();
            int pid = forked.Pid ?? throw new ZygoteException("fork-zygote reply without a pid");
            int raw = here.Value;
            here.SetHandleAsInvalid();
            socket = new System.Net.Sockets.Socket(new System.Net.Sockets.SafeSocketHandle(raw, ownsHandle: true));
            // The hello waits for the child's imports: off the caller's thread.
            var park = parked == 0 ? ParkPolicy.Fixed(0) : _park with { Min = parked, Max = Math.Max(parked, _park.Max) };
            var (connection, hello) = await Task.Run(() => ZygoteConnection.Over(socket, $"zygote-{pid}", timeout, _host.Cgroups, park)).ConfigureAwait(false);
            var child = new Zygote(_host, _logger, null, pid, _netns, _cgroup, _root, connection, this, [.. Modules, .. modules], park)
            {
                IsFresh = fresh,
                FailedModules = hello.Failed ?? [],
                ImportMs = hello.ImportMs ?? 0,
            };
            Log.Forked(_logger, pid, Pid, modules.Count, child.ImportMs);
            return child;
        }
        catch
        {
            there.Dispose();
            here.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Learns which pages a sandbox forked from this zygote wrote (its own pages, read from its
    /// pagemap off the caller's thread) and tells the zygote, whose parked children then pre-fault
    /// those pages only. The first <see cref="TouchSamples"/> sandboxes are read; their pages add up.
    /// </summary>
    public void LearnTouches(int pid)
    {
        if (IsFresh || !IsAlive || Interlocked.Increment(ref _touchSamples) > TouchSamples)
            return;
        _ = Task.Run(() =>
        {
            var own = Thaw.Linux.Processes.PageMap.OwnPages(pid, MaxTouchPages);
            if (own.Count == 0)
                return;
            List<ulong[]> ranges;
            lock (_touched)
            {
                ulong page = (ulong)Environment.SystemPageSize;
                foreach (var (start, pages) in own)
                    for (ulong i = 0; i < pages && _touched.Count < MaxTouchPages; i++)
                        _touched.Add(start + i * page);
                ranges = Ranges(_touched, page);
                Connection.ChildBytes = _touched.Count * (long)page;
            }
            try
            {
                Connection.Send(new ZygoteRequest { Op = "profile", Ranges = ranges });
                Log.TouchProfile(_logger, Pid, pid, own.Sum(r => (long)r.Pages), ranges.Sum(r => (long)r[1]));
            }
            catch (Exception e) when (e is Thaw.Linux.LinuxException or System.Net.Sockets.SocketException or ObjectDisposedException) { }
        });
    }

    /// <summary>Sorted pages as [start, count] runs, as many as one protocol message holds.</summary>
    private static List<ulong[]> Ranges(SortedSet<ulong> pages, ulong page)
    {
        var ranges = new List<ulong[]>();
        foreach (ulong address in pages)
        {
            if (ranges.Count > 0 && ranges[^1][0] + ranges[^1][1] * page == address)
                ranges[^1][1]++;
            else if (ranges.Count < MaxTouchRanges)
                ranges.Add([address, 1]);
        }
        return ranges;
    }

    // A profile of a few sandboxes covers what their handlers touch; more would only add noise.
    private const int TouchSamples = 3;
    private const long MaxTouchPages = 64 * 1024;
    // About 25 bytes each in JSON: within the protocol's 64 KiB message.
    private const int MaxTouchRanges = 2000;
    private readonly SortedSet<ulong> _touched = [];
    private int _touchSamples;

    /// <summary>Proportional set size: this zygote's share of the memory it shares with its parents and children.</summary>
    public long MemoryBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Pid}/smaps_rollup"))
                if (line.StartsWith("Pss:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(4).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return 0;
    }

    private void OnClosed(Exception? error)
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        Log.Crashed(_logger, Pid, error);
        try
        {
            Crashed?.Invoke(this);
        }
        catch (Exception e)
        {
            Log.CrashHandlerFailed(_logger, Pid, e);
        }
        // Off the reader thread: the release waits for the process. A work item that throws would end
        // thawd, so whatever the release hits is logged.
        ThreadPool.QueueUserWorkItem(_ =>
        {
            try { Dispose(); }
            catch (Exception e) { Log.ReleaseFailed(_logger, Pid, e); }
        });
    }

    /// <summary>Closes the connection (the zygote then kills its sandboxes and exits) and returns its resources.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Connection.Dispose();
        _mountNamespace?.Dispose();
        if (_process is null)
        {
            // A child zygote exits when its connection closes and its parent reaps it.
            WaitGone(Pid, TimeSpan.FromSeconds(5));
            return;
        }
        if (!_process.WaitForExit(5000))
        {
            try { _process.Kill(); } catch (InvalidOperationException) { }
            _process.WaitForExit(5000);
        }
        _process.Dispose();
        // The cgroup release kills anything left in it; the root and netns are recycled.
        _host.Cgroups.Release(_cgroup);
        _host.Roots.Release(_root);
        _host.Netns.Release(_netns);
    }

    private static void WaitGone(int pid, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (Directory.Exists($"/proc/{pid}"))
        {
            if (sw.Elapsed > timeout)
            {
                try { Process.GetProcessById(pid).Kill(); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
                return;
            }
            Thread.Sleep(2);
        }
    }
}
