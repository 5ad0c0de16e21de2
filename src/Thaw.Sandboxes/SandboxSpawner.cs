using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Thaw.Linux;
using Thaw.Linux.Files;
using Thaw.Linux.Mounts;
using Thaw.Linux.Processes;
using Thaw.Linux.Sockets;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;
using Thaw.Sandboxes.Zygotes;

namespace Thaw.Sandboxes;

/// <summary>
/// The cold-start path, top to bottom in CreateCoreAsync: every step before the fork is a
/// pool pop (netns, cgroup, root), then one request with fds to the zygote. Owns the zygote and
/// starts a new one when it dies; owns the live sandboxes and deletes them on dispose.
/// </summary>
public sealed partial class SandboxSpawner : IAsyncDisposable
{
    private readonly ResourceHost _host;
    private readonly SandboxOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _zygoteLock = new();
    private readonly ConcurrentDictionary<string, Sandbox> _live = new();
    private readonly SafeFd _devNull;
    private readonly IReadOnlyList<string> _namespaces;
    // Thawd as the exec sandboxes' parent (SpawnVia.Thawd); null when the zygote makes them.
    private readonly ExecLauncher? _launcher;
    private Zygote _zygote;
    private long _next;
    private int _restarts;
    // The replacement of a dead root zygote under way, awaited by every start that needs it.
    private Task<Zygote>? _replacing;
    private volatile bool _disposed;

    public SandboxSpawner(ResourceHost host, SandboxOptions options, ILogger logger)
    {
        options.Validate();
        _host = host;
        _options = options;
        _logger = logger;
        _namespaces = options.MountNamespace ? ["ipc", "uts", "pid", "mnt"] : ["ipc", "uts", "pid"];
        _devNull = FileDescriptors.OpenRead("/dev/null");
        try
        {
            _zygote = StartZygote();
            if (options.Via == SpawnVia.Thawd)
                _launcher = new ExecLauncher(options.Zygote.NativePath, e => Log.ExitHandlingFailed(_logger, e));
        }
        catch
        {
            _zygote?.Dispose();
            _devNull.Dispose();
            throw;
        }
    }

    /// <summary>The environment a sandbox gets when its spec names none (runtimes put a function's own on top).</summary>
    public IReadOnlyDictionary<string, string> DefaultEnvironment => _options.DefaultEnvironment;

    /// <summary>The zygote sandboxes are forked from now.</summary>
    public Zygote Zygote => _zygote;

    /// <summary>How many times a dead zygote was replaced.</summary>
    public int ZygoteRestarts => Volatile.Read(ref _restarts);

    public IReadOnlyCollection<Sandbox> Live => [.. _live.Values];

    /// <summary>
    /// Creates a sandbox, entered and waiting for <see cref="Sandbox.Start"/>. Bad input throws an
    /// <see cref="ArgumentException"/> before anything is claimed; a failed claim or spawn returns
    /// what was claimed and throws.
    /// </summary>
    public Task<Sandbox> CreateAsync(SandboxSpec spec, Action<ReadOnlyMemory<byte>>? stdoutSink = null, Action<ReadOnlyMemory<byte>>? stderrSink = null) =>
        CreateCoreAsync(spec, stdoutSink, stderrSink, startNow: false, from: null);

    /// <summary>
    /// Creates and starts a sandbox (runc run); await <see cref="Sandbox.Exited"/> for the end. A
    /// Python function's sandbox may be forked <paramref name="from"/> a child zygote of the import
    /// cache instead of the root zygote; a dead one throws <see cref="ZygoteException"/> before anything is claimed.
    /// </summary>
    public Task<Sandbox> RunAsync(SandboxSpec spec, Action<ReadOnlyMemory<byte>>? stdoutSink = null, Action<ReadOnlyMemory<byte>>? stderrSink = null, Zygote? from = null) =>
        CreateCoreAsync(spec, stdoutSink, stderrSink, startNow: true, from);

    private async Task<Sandbox> CreateCoreAsync(SandboxSpec spec, Action<ReadOnlyMemory<byte>>? stdoutSink, Action<ReadOnlyMemory<byte>>? stderrSink, bool startNow, Zygote? from)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long requested = System.Diagnostics.Stopwatch.GetTimestamp();
        spec.Validate();
        var netnsPool = NetnsPoolFor(spec.Network);
        // Before anything is claimed: a dead zygote is replaced here, and if that fails nothing is held.
        var zygote = from is null ? await CurrentZygoteAsync().ConfigureAwait(false) : from.IsAlive ? from : throw new ZygoteGoneException($"zygote {from.Pid} is gone");
        string id = "sb-" + Interlocked.Increment(ref _next).ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Cloned by thawd itself (SpawnVia.Thawd): an exec sandbox started at once (its vfork cannot
        // wait for a start), attached into a mount namespace of its own. Other exec sandboxes go to
        // the zygote's helper clone unless forking was asked for; Python functions are forks.
        bool direct = _launcher is not null && spec.Runtime is null && startNow && _options.MountNamespace;
        string via = spec.Runtime is null && _options.Via != SpawnVia.Fork ? "helper" : "fork";

        // 1. A fork into a new pid namespace goes to a child the zygote forked ahead, if one waits:
        // thawd sends it the spawn itself, and it has joined a pooled cgroup already.
        var parked = via == "fork" ? zygote.Connection.TakeParked() : null;

        // 2–4. Pool pops: a network namespace, a cgroup with the sandbox's limits (the parked child's
        // own, its limits written once the child has the spawn, else a pooled one), a root with the code.
        var netns = netnsPool.Claim();
        SandboxCgroup? cgroup = null;
        SandboxRoot? root;
        bool joined = parked?.Cgroup is not null;
        try
        {
            cgroup = parked?.Cgroup ?? _host.Cgroups.Claim(spec.Limits);
            root = _host.Roots.Claim(spec.CodeDir, spec.PackagesDir, spec.CodeWritable);
        }
        catch
        {
            if (parked is not null)
                zygote.Connection.ReturnParked(parked); // with its cgroup, untouched
            else if (cgroup is not null)
                _host.Cgroups.Release(cgroup);
            netnsPool.Release(netns);
            throw;
        }

        long claimed = System.Diagnostics.Stopwatch.GetTimestamp();

        // 5. The descriptors the child receives, each named as PROTOCOL.md says; thawd keeps the
        // other ends (output, start). "owned" ones were opened for this sandbox and close after sending.
        var sent = new List<(string Name, SafeFd Fd, bool Owned)>();
        Socket? channel = null;
        Socket? stdin = null;
        SafeFd? startWrite = null;
        Sandbox sandbox;
        try
        {
            // One root: with a mount namespace, a detached copy of its mount tree, which the child
            // attaches into a copy of the zygote's small namespace (not thawd's large one); without,
            // the dir to chroot into.
            sent.Add(_options.MountNamespace ? ("tree", Mounts.CloneTree(root.Path), true) : ("root", FileDescriptors.OpenDirectory(root.Path), true));
            root.OnlyCloned = _options.MountNamespace;
            sent.Add(("netns", netns.Fd, false));
            if (spec.Stdin is null)
                sent.Add(("stdin", _devNull, false));
            else
            {
                var (stdinHere, stdinThere) = FdPassing.SocketPair(SocketType.Stream);
                sent.Add(("stdin", stdinThere, true));
                stdin = ToSocket(stdinHere);
            }
            var (stdoutHere, stdoutThere) = FdPassing.SocketPair(SocketType.Stream);
            sent.Add(("stdout", stdoutThere, true));
            var (stderrHere, stderrThere) = FdPassing.SocketPair(SocketType.Stream);
            sent.Add(("stderr", stderrThere, true));
            // The start pipe: the child waits on it until thawd says start (a vfork child thawd
            // clones itself never waits: it has none).
            if (!direct)
            {
                (var startRead, startWrite) = FileDescriptors.Pipe();
                sent.Add(("start", startRead, true));
            }
            if (spec.Runtime is not null)
            {
                var (channelHere, channelThere) = FdPassing.SocketPair(SocketType.Stream);
                sent.Add(("invoke", channelThere, true));
                channel = ToSocket(channelHere);
            }
            sandbox = new Sandbox(id, spec, _host, netnsPool, netns, cgroup, root, direct ? _launcher! : zygote.Connection, startWrite,
                SandboxLog.Pump(ToSocket(stdoutHere), _options.LogLimitBytes, stdoutSink),
                SandboxLog.Pump(ToSocket(stderrHere), _options.LogLimitBytes, stderrSink), _logger, s => _live.TryRemove(s.Id, out _));
            sandbox.Channel = channel;
            sandbox.Timings.Requested = requested;
            sandbox.Timings.Claimed = claimed;
        }
        catch
        {
            CloseOwned(sent);
            startWrite?.Dispose();
            stdin?.Dispose();
            channel?.Dispose();
            _host.Roots.Release(root);
            _host.Cgroups.Release(cgroup); // a parked child's: it is killed with it
            parked?.Socket.Dispose();
            netnsPool.Release(netns);
            throw;
        }

        // Started before it exists: the start byte waits in the pipe, and the zygote may spawn with
        // vfork (its child will not block on start). Not a parked child's: its start waits for its limits.
        if (startNow && !joined)
            sandbox.Start();

        // 6. The fork request: to the parked child, else to the zygote. A child that has not joined
        // its cgroup gets the cgroup's cgroup.procs files (the pooled cgroup's own, kept open for its life).
        ZygoteRequest Request(bool withCgroups) => new()
        {
            Prestarted = startNow && !joined,
            Op = "spawn",
            Id = id,
            Via = via,
            Argv = spec.Runtime is null ? spec.Argv : null,
            Runtime = spec.Runtime,
            Env = spec.Environment ?? _options.DefaultEnvironment,
            Cwd = WorkingDirectory(spec),
            Hostname = spec.Hostname,
            Uid = _options.Uid,
            Gid = _options.Gid,
            Namespaces = _namespaces,
            Fds = [.. sent.Select(f => f.Name), .. withCgroups ? cgroup.ProcsFds.Select(_ => "cgroup") : []],
        };
        SafeFd[] Fds(bool withCgroups) => [.. sent.Select(f => f.Fd), .. withCgroups ? cgroup.ProcsFds : []];
        _live[id] = sandbox;
        try
        {
            // Known before the send: a kill (its timeout) may come before the zygote has heard of it,
            // and the zygote finds a child thawd claimed by its pid.
            if (parked is not null)
                sandbox.Pid = parked.Pid;
            if (direct)
                sandbox.Pid = LaunchDirect(sandbox, zygote, sent);
            else if (parked is not null && zygote.Connection.SpawnParked(parked, Request(!joined), Fds(!joined), sandbox))
            {
                // While the child enters (setns, mounts, privileges), its limits are written; it waits
                // on the start byte, so nothing of the function runs before they hold.
                if (joined)
                    StartWithLimits(sandbox, spec, startNow);
            }
            else
            {
                if (joined)
                    StartWithLimits(sandbox, spec, startNow); // the parked child died: its cgroup goes to a fork
                sandbox.Pid = await zygote.Connection.SpawnAsync(Request(withCgroups: true), Fds(withCgroups: true), sandbox).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            // Whatever failed (the zygote refused the request or died meanwhile), nothing runs:
            // every claimed resource goes back before the caller hears about it.
            await sandbox.Abandon(e.Message).ConfigureAwait(false);
            sandbox.Channel?.Dispose();
            stdin?.Dispose();
            // A zygote that died before it forked: the caller may send the spawn again (to its replacement or parent).
            if (e is ZygoteGoneException || !zygote.IsAlive)
                throw new ZygoteGoneException($"sandbox {id} could not be created: zygote {zygote.Pid} is gone: {e.Message}", e);
            throw new SandboxException($"sandbox {id} could not be created: {e.Message}", e);
        }
        finally
        {
            // The child has its copies; these were only for sending.
            CloseOwned(sent);
        }
        sandbox.MarkCreated();
        sandbox.CloseResourceDescriptors();
        if (stdin is not null)
            _ = FeedAsync(stdin, spec.Stdin!.Value);
        return sandbox;
    }

    /// <summary>Writes a sandbox's stdin, then closes it (end of file); a program that stops reading early is no error.</summary>
    private static async Task FeedAsync(Socket stdin, ReadOnlyMemory<byte> bytes)
    {
        using (stdin)
        {
            try
            {
                while (!bytes.IsEmpty)
                    bytes = bytes[await stdin.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false)..];
                stdin.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException) { } // it exited (or closed stdin) without reading everything
        }
    }

    /// <summary>The same request as the zygote's, as libthawspawn's arguments: thawd clones the sandbox and is its parent.</summary>
    private int LaunchDirect(Sandbox sandbox, Zygote zygote, List<(string Name, SafeFd Fd, bool Owned)> sent)
    {
        var spec = sandbox.Spec;
        SafeFd Sent(string name) => sent.First(f => f.Name == name).Fd;
        return _launcher!.Launch(sandbox.Id, new NativeSpawnRequest
        {
            MountNamespace = zygote.MountNamespace,
            Tree = Sent("tree"),
            Netns = sandbox.Netns.Fd,
            Stdin = Sent("stdin"),
            Stdout = Sent("stdout"),
            Stderr = Sent("stderr"),
            Cgroups = sandbox.Cgroup.ProcsFds,
            Uid = (uint)_options.Uid,
            Gid = (uint)_options.Gid,
            Hostname = spec.Hostname,
            WorkingDirectory = WorkingDirectory(spec),
            Argv = spec.Argv,
            Environment = [.. (spec.Environment ?? _options.DefaultEnvironment).Select(e => e.Key + "=" + e.Value)],
            SeccompFilter = _options.Zygote.Seccomp ? SandboxSeccomp.Program.Bpf : null,
        }, sandbox);
    }

    /// <summary>Where the sandbox's program starts: the code dir when it has one.</summary>
    private static string WorkingDirectory(SandboxSpec spec) => spec.WorkingDirectory ?? (spec.CodeDir is null ? "/" : "/handler");

    private void StartWithLimits(Sandbox sandbox, SandboxSpec spec, bool startNow)
    {
        _host.Cgroups.Fit(sandbox.Cgroup, spec.Limits);
        if (startNow)
            sandbox.Start();
    }

    private NetnsPool NetnsPoolFor(SandboxNetwork network) => network switch
    {
        SandboxNetwork.None => _host.Netns,
        SandboxNetwork.Bridge => _host.BridgeNetns
            ?? throw new ArgumentException("bridge networking is not enabled on this instance (enable the bridge pool)"),
        _ => throw new ArgumentOutOfRangeException(nameof(network), network, null),
    };

    private static void CloseOwned(List<(string Name, SafeFd Fd, bool Owned)> sent)
    {
        foreach (var (_, fd, owned) in sent)
            if (owned)
                fd.Dispose();
    }

    private static Socket ToSocket(SafeFd fd)
    {
        // The Socket takes the descriptor over: async reads on the runtime's epoll, no thread per log.
        int raw = fd.Value;
        fd.SetHandleAsInvalid();
        return new Socket(new SafeSocketHandle(raw, ownsHandle: true));
    }

    /// <summary>
    /// The root zygote, or the start of its replacement when it died: one start at a time, on a
    /// thread of its own, which every start waiting for it awaits. Started on the caller's thread
    /// under a lock, a replacement (a process start and its ready line, up to its start timeout) held
    /// every request thread that needed a zygote, and with them, under load, the threads thawd's
    /// sockets complete on: the soak saw every call stall for 10 s after the root zygote was killed.
    /// </summary>
    private Task<Zygote> CurrentZygoteAsync()
    {
        var zygote = _zygote;
        if (zygote.IsAlive)
            return Task.FromResult(zygote);
        lock (_zygoteLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_zygote.IsAlive)
                return Task.FromResult(_zygote);
            if (_replacing is null || _replacing.IsCompleted)
                _replacing = Task.Factory.StartNew(ReplaceZygote, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return _replacing;
        }
    }

    private Zygote ReplaceZygote()
    {
        var started = StartZygote();
        lock (_zygoteLock)
        {
            if (_disposed)
            {
                started.Dispose();
                throw new ObjectDisposedException(nameof(SandboxSpawner));
            }
            _zygote = started;
        }
        Interlocked.Increment(ref _restarts);
        return started;
    }

    private Zygote StartZygote()
    {
        var zygote = Zygote.Start(_host, _options.Zygote, _logger);
        zygote.Crashed += OnZygoteCrashed;
        return zygote;
    }

    private void OnZygoteCrashed(Zygote dead) => _ = ReplaceAheadAsync(dead);

    /// <summary>Replaces a dead root zygote ahead of the next request (off the connection's thread).</summary>
    private async Task ReplaceAheadAsync(Zygote dead)
    {
        try
        {
            await Task.Yield();
            if (!_disposed)
                await CurrentZygoteAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Nothing may end thawd from here: the next request tries again.
            Log.RestartFailed(_logger, dead.Pid, e);
        }
    }

    /// <summary>Deletes every live sandbox, stops the zygote and closes what the spawner holds.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        await Task.WhenAll(_live.Values.Select(s => s.DeleteAsync(_options.KillTimeout))).ConfigureAwait(false);
        _launcher?.Dispose();
        lock (_zygoteLock)
            _zygote.Dispose();
        _devNull.Dispose();
    }
}
