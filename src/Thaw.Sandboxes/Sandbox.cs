using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Thaw.Linux;
using Thaw.Linux.Files;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;
using Thaw.Sandboxes.Zygotes;

namespace Thaw.Sandboxes;

/// <summary>
/// One sandbox, in runc's vocabulary: created (entered and waiting), <see cref="Start"/>ed,
/// <see cref="Kill"/>ed, deleted. When it exits, for any reason (its program ended, a signal, the
/// OOM killer, its timeout, a crashed zygote), its output is drained and every resource goes back
/// to its pool before <see cref="Exited"/> completes.
/// </summary>
public sealed partial class Sandbox : IZygoteEvents
{
    private readonly ResourceHost _host;
    private readonly NetnsPool _netnsPool;
    private readonly ILogger _logger;
    private readonly Action<Sandbox> _stopped;
    private readonly TaskCompletionSource<SandboxExit> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private readonly Lock _descriptors = new();
    private bool _released;
    private SafeFd? _start;
    private bool _started;
    private Timer? _timeout;
    private volatile bool _timedOut;
    private int _finished;

    internal Sandbox(string id, SandboxSpec spec, ResourceHost host, NetnsPool netnsPool, PooledNetns netns, SandboxCgroup cgroup,
        SandboxRoot root, ISandboxParent parent, SafeFd? start, SandboxLog stdout, SandboxLog stderr, ILogger logger, Action<Sandbox> stopped)
    {
        _stopped = stopped;
        Id = id;
        Spec = spec;
        _host = host;
        _netnsPool = netnsPool;
        Netns = netns;
        Cgroup = cgroup;
        Root = root;
        Parent = parent;
        _start = start;
        Stdout = stdout;
        Stderr = stderr;
        _logger = logger;
    }

    public string Id { get; }

    /// <summary>Who signals its pid 1: the zygote's connection, or thawd's own launcher for a sandbox it cloned.</summary>
    internal ISandboxParent Parent { get; }

    public SandboxSpec Spec { get; }

    public SandboxStatus Status { get; private set; } = SandboxStatus.Creating;

    /// <summary>The sandbox's pid 1, in the host's pid namespace.</summary>
    public int? Pid { get; internal set; }

    public SandboxLog Stdout { get; }

    /// <summary>When each step of the cold start happened.</summary>
    public SandboxTimings Timings { get; } = new();

    public SandboxLog Stderr { get; }

    public PooledNetns Netns { get; }

    /// <summary>thawd's end of the invoke socket of a sandbox that serves the handler runtime; null for a program.</summary>
    public System.Net.Sockets.Socket? Channel { get; internal set; }

    public SandboxCgroup Cgroup { get; }

    public SandboxRoot Root { get; }

    /// <summary>Completes once the sandbox has exited and its resources are back in their pools.</summary>
    public Task<SandboxExit> Exited => _exit.Task;

    public SandboxState State() =>
        new(Id, Status, Pid, _exit.Task.IsCompletedSuccessfully ? _exit.Task.Result : null, Cgroup.RelativePath, Root.Path, Netns.Path);

    /// <summary>Lets the created sandbox exec its program; arms its timeout.</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_started || Status == SandboxStatus.Stopped)
                throw new InvalidOperationException($"sandbox {Id} was already started or has stopped ({Status})");
            _started = true;
            // No start pipe: thawd cloned it, and its vfork ran straight to the exec.
            if (_start is not null)
            {
                FileDescriptors.Write(_start, "s"u8);
                _start.Dispose();
                _start = null;
            }
            if (Spec.Timeout is { } timeout && Status != SandboxStatus.Stopped)
                _timeout = new Timer(_ => { _timedOut = true; Kill(); }, null, timeout, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Sends <paramref name="signal"/> to the sandbox's pid 1 (SIGKILL ends the whole pid namespace).</summary>
    public void Kill(int signal = 9)
    {
        if (Status != SandboxStatus.Stopped)
            Parent.Kill(Id, Pid, signal);
    }

    /// <summary>Kills the sandbox if it still runs and waits until it is gone and its resources are returned.</summary>
    public async Task<SandboxExit> DeleteAsync(TimeSpan killTimeout)
    {
        Kill();
        try
        {
            return await _exit.Task.WaitAsync(killTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The zygote did not report the death: return the resources anyway. The cgroup release
            // kills whatever is still in it, so nothing of the sandbox survives.
            Log.KillTimedOut(_logger, Id, killTimeout.TotalSeconds);
            Finish(null, 9, $"not reported dead within {killTimeout.TotalSeconds:0.#} s of kill; killed through its cgroup", unreaped: true);
            return await _exit.Task.ConfigureAwait(false);
        }
        finally
        {
            // Closed here, not at the exit: what the sandbox wrote before it died (its error frame)
            // must stay readable until whoever deletes it has read it.
            Channel?.Dispose();
        }
    }

    void IZygoteEvents.OnStarted(int pid)
    {
        Timings.Started = Stopwatch.GetTimestamp();
        Pid = pid;
        if (Status != SandboxStatus.Stopped)
            Status = SandboxStatus.Running;
    }

    void IZygoteEvents.OnExited(int? code, int? signal, string? error) => Finish(code, signal, error);

    void IZygoteEvents.OnZygoteLost() => Finish(null, null, "the zygote died before the sandbox exited", unreaped: true, zygoteLost: true);

    internal void MarkCreated()
    {
        if (Status == SandboxStatus.Creating)
            Status = SandboxStatus.Created;
    }

    /// <summary>The spawn itself failed: nothing runs, give everything back and report the error.</summary>
    internal Task<SandboxExit> Abandon(string error)
    {
        Finish(null, null, error);
        return _exit.Task;
    }

    private void Finish(int? code, int? signal, string? error, bool unreaped = false, bool zygoteLost = false)
    {
        if (Interlocked.Exchange(ref _finished, 1) != 0)
            return;
        long exitedAt = Timings.Exited = Stopwatch.GetTimestamp();
        Status = SandboxStatus.Stopped;
        // Off the zygote's reader thread: draining logs and returning resources may take a while.
        _ = Task.Run(async () =>
        {
            bool oom = false;
            try
            {
                lock (_lock)
                {
                    _timeout?.Dispose();
                    _start?.Dispose();
                    _start = null;
                }
                oom = TryReadOom();
                if (unreaped)
                {
                    // Nobody reaped it: its processes may still run. Kill them before saying it exited.
                    // On a thread of its own: a dead zygote loses all its sandboxes at once, and as
                    // many blocking kills (freeze, kill, thaw, wait) would starve the thread pool.
                    await Task.Factory.StartNew(() => Cgroup.KillAll(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
                }
                // Every writer is dead once pid 1 of the namespace is: the logs end promptly.
                await Task.WhenAll(Stdout.Completion, Stderr.Completion).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Log.LogsNotClosed(_logger, Id);
                Stdout.Abort();
                Stderr.Abort();
            }
            catch (Exception e)
            {
                // The kill through the cgroup failed (a cgroup gone half-way): the pools' release
                // below kills and recycles it again; whoever waits for the exit must still hear of it.
                Log.FinishFailed(_logger, Id, e);
            }
            finally
            {
                try { Release(); }
                catch (Exception e) { Log.FinishFailed(_logger, Id, e); }
                _stopped(this);
                _exit.TrySetResult(new SandboxExit(code, signal, error, oom, _timedOut, exitedAt, zygoteLost));
            }
        });
    }

    private bool TryReadOom()
    {
        try { return Cgroup.OomKilledSinceClaim(); }
        catch (IOException) { return false; }
    }

    /// <summary>
    /// Closes the netns's and the cgroup's descriptors once the process is in them (an idle sandbox may
    /// live for hours, thousands at once); the pools reopen them when they recycle. Not once its exit
    /// gave them back: a program that exits at once can be reaped before its spawner gets here, and the
    /// pools may already have reopened them for the next sandbox.
    /// </summary>
    internal void CloseResourceDescriptors()
    {
        lock (_descriptors)
        {
            if (_released)
                return;
            Netns.CloseDescriptors();
            Cgroup.CloseDescriptors();
        }
    }

    private void Release()
    {
        lock (_descriptors)
            _released = true;
        // Each pool kills, cleans and recycles off this path (the cgroup release kills stragglers).
        _host.Cgroups.Release(Cgroup);
        _host.Roots.Release(Root);
        _netnsPool.Release(Netns);
    }
}
