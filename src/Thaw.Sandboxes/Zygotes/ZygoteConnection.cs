using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json;
using Thaw.Linux;
using Thaw.Linux.Sockets;
using Thaw.Resources.Cgroups;

namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// thawd's end of the zygote protocol (src/python/PROTOCOL.md): one SEQPACKET connection, requests
/// with fds sent from any thread, replies and events read by one dedicated thread. When the zygote
/// goes away every pending request fails and every sandbox it held hears about it.
/// </summary>
internal sealed class ZygoteConnection : ISandboxParent, IDisposable
{
    public const int ProtocolVersion = 4;
    private const int MaxMessage = 64 * 1024;

    private readonly Socket _socket;
    private readonly SafeFd _fd;
    private readonly Lock _sendLock = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<ZygoteMessage>> _replies = new();
    private readonly ConcurrentDictionary<string, IZygoteEvents> _sandboxes = new();
    // Sandboxes thawd handed straight to a parked child: the zygote names them by pid.
    private readonly ConcurrentDictionary<int, IZygoteEvents> _claimed = new();
    // Children the zygote forked ahead, oldest first, with thawd's end of each one's socket.
    private readonly LinkedList<ParkedChild> _parked = new();
    private readonly Lock _parkedLock = new();
    // Where parked children's cgroups come from (and go back to); null: they join theirs at spawn.
    private readonly CgroupPool? _cgroups;
    private static readonly byte[] JoinMessage = """{"op":"join"}"""u8.ToArray();
    // How many children the zygote should keep parked, from the claims it sees; the target it was last told.
    private readonly ParkDemand _demand;
    private int _parkTarget;
    private readonly Lock _replanLock = new();
    private readonly Timer? _replan;
    private readonly Thread _reader;
    // One buffer for the one reader thread: a fresh 64 KiB per message was most of thawd's memset time.
    private readonly byte[] _receiveBuffer = new byte[MaxMessage];
    private volatile bool _closed;

    private ZygoteConnection(Socket socket, string name, CgroupPool? cgroups, ParkPolicy park)
    {
        _cgroups = cgroups;
        _demand = new ParkDemand(park);
        _parkTarget = park.Min;
        // Lowering the target needs time to pass, not a claim: a quiet zygote is checked now and then.
        if (park.Max > park.Min)
            _replan = new Timer(_ => Replan(), null, Timeout.Infinite, Timeout.Infinite);
        _socket = socket;
        _fd = new SafeFd((int)socket.Handle, ownsHandle: false);
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = name };
    }

    /// <summary>
    /// Raised once, on the reader thread, when the zygote closes the connection or dies; with the
    /// error that ended the reader when it was not a plain close (a reset, a broken message).
    /// </summary>
    public event Action<Exception?>? Closed;

    public bool IsOpen => !_closed;

    /// <summary>The pids of the children the zygote keeps parked for thawd to claim, oldest first.</summary>
    public IReadOnlyList<int> ParkedPids
    {
        get { lock (_parkedLock) return [.. _parked.Select(p => p.Pid)]; }
    }

    /// <summary>
    /// Connects and checks the protocol version; the zygote accepts exactly one connection. Its
    /// parked children get cgroups from <paramref name="cgroups"/> to join while they wait.
    /// </summary>
    public static ZygoteConnection Connect(string socketPath, string name, CgroupPool? cgroups, ParkPolicy park)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return Over(socket, name, Timeout.InfiniteTimeSpan, cgroups, park).Connection;
    }

    /// <summary>
    /// Speaks the protocol over an already connected socket (a child zygote's, made by fork-zygote):
    /// the hello exchange, then the reader thread. Takes the socket over, also on failure.
    /// </summary>
    public static (ZygoteConnection Connection, ZygoteMessage Hello) Over(Socket socket, string name, TimeSpan timeout, CgroupPool? cgroups, ParkPolicy park)
    {
        try
        {
            var connection = new ZygoteConnection(socket, name, cgroups, park);
            connection.Send(new ZygoteRequest { Op = "hello", Version = ProtocolVersion });
            socket.ReceiveTimeout = timeout == Timeout.InfiniteTimeSpan ? 0 : (int)Math.Max(1, timeout.TotalMilliseconds);
            ZygoteMessage hello;
            try
            {
                // A zygote that was idle for a moment has parked a child already: that event (kept
                // by ReceiveOne) may come first.
                do
                    hello = connection.ReceiveOne() ?? throw new ZygoteException("the zygote closed the connection during hello");
                while (hello.Op == "parked");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                throw new ZygoteException($"the zygote did not answer hello within {timeout.TotalSeconds:0.#} s");
            }
            catch (LinuxException e)
            {
                // Reset: it died (or its parent did) before it answered, a child zygote while importing.
                throw new ZygoteGoneException($"the zygote died before it answered hello ({e.Message})", e);
            }
            socket.ReceiveTimeout = 0;
            if (hello.Op != "hello" || hello.Version != ProtocolVersion)
                throw new ZygoteException($"the zygote speaks protocol {hello.Version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}, thawd {ProtocolVersion}: {hello.Error}");
            connection._reader.Start();
            connection._replan?.Change(ReplanPeriod, ReplanPeriod);
            return (connection, hello);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends a request that gets one reply (or an error) with the same id.</summary>
    public async Task<ZygoteMessage> RequestAsync(ZygoteRequest request, SafeFd[] fds)
    {
        string id = request.Id!;
        var reply = new TaskCompletionSource<ZygoteMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _replies[id] = reply;
        try
        {
            if (_closed)
                throw new ZygoteGoneException("the zygote is gone");
            try
            {
                Send(request, fds);
            }
            catch (Exception e) when (e is LinuxException or SocketException or ObjectDisposedException)
            {
                // A dead zygote's socket (EPIPE, ECONNRESET) or one disposed meanwhile: nothing was forked.
                throw new ZygoteGoneException($"the zygote is gone: {e.Message}", e);
            }
            var message = await reply.Task.ConfigureAwait(false);
            return message.Op == "error" ? throw new ZygoteException(message.Error ?? "the zygote refused the request") : message;
        }
        finally
        {
            _replies.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// The oldest parked child, now the caller's: hand it a spawn with <see cref="SpawnParked"/>, or
    /// give it back with <see cref="ReturnParked"/>. Null when the zygote has none waiting.
    /// </summary>
    public ParkedChild? TakeParked()
    {
        // Every fork claim counts, served or not: a burst larger than the stock raises the target
        // at once, and the zygote refills to it as soon as the burst leaves it idle.
        if (_demand.Claim(ChildBytes) > Volatile.Read(ref _parkTarget))
            Replan();
        lock (_parkedLock)
        {
            if (_closed || _parked.First is not { } first)
                return null;
            _parked.RemoveFirst();
            return first.Value;
        }
    }

    /// <summary>A parked child taken but not used (a claim after it failed): the next spawn may have it.</summary>
    public void ReturnParked(ParkedChild child)
    {
        lock (_parkedLock)
        {
            if (!_closed)
            {
                _parked.AddFirst(child);
                return;
            }
        }
        Discard(child);
    }

    /// <summary>
    /// Sends a fork spawn straight to a parked child: one socket hop instead of two, and no zygote
    /// Python before the child has it. No reply comes (the pid is known); <paramref name="events"/>
    /// hears the start and exit, which the zygote names by pid. False if the child turned out dead
    /// (its cgroup stays the caller's: spawn through the zygote instead).
    /// </summary>
    public bool SpawnParked(ParkedChild child, ZygoteRequest request, SafeFd[] fds, IZygoteEvents events)
    {
        // Before the send: the child may fail and be reported the moment it has the request.
        _claimed[child.Pid] = events;
        using (child.Socket)
        {
            try
            {
                FdPassing.Send(child.Socket, JsonSerializer.SerializeToUtf8Bytes(request, ZygoteJson.Default.ZygoteRequest), fds);
                return true;
            }
            catch (LinuxException)
            {
                // It died while parked: if its exit already reached this sandbox, that one is finished.
                if (!_claimed.TryRemove(new KeyValuePair<int, IZygoteEvents>(child.Pid, events)))
                    throw new ZygoteException($"parked child {child.Pid} died as it was claimed");
                return false;
            }
        }
    }

    /// <summary>Sends a spawn request to the zygote, which forks; <paramref name="events"/> hears the sandbox's start and exit.</summary>
    public async Task<int> SpawnAsync(ZygoteRequest request, SafeFd[] fds, IZygoteEvents events)
    {
        string id = request.Id!;
        _sandboxes[id] = events;
        try
        {
            var message = await RequestAsync(request, fds).ConfigureAwait(false);
            return message is { Op: "spawned", Pid: int pid } ? pid : throw new ZygoteException($"unexpected reply '{message.Op}' to spawn");
        }
        catch
        {
            _sandboxes.TryRemove(id, out _);
            throw;
        }
    }

    /// <summary>
    /// Asks the zygote to signal a sandbox (by id, or by pid for one claimed from a parked child);
    /// the exit event follows. A gone zygote is no error.
    /// </summary>
    public void Kill(string id, int? pid, int signal)
    {
        if (_closed)
            return;
        try { Send(new ZygoteRequest { Op = "kill", Id = id, Pid = pid, Signal = signal }); }
        catch (Exception e) when (e is LinuxException or SocketException or ObjectDisposedException) { }
    }

    private static readonly TimeSpan ReplanPeriod = TimeSpan.FromSeconds(2);

    /// <summary>What one parked child holds once it pre-faulted (its zygote's touch profile); 0 while not known.</summary>
    public long ChildBytes
    {
        get => Volatile.Read(ref _childBytes);
        set => Volatile.Write(ref _childBytes, value);
    }

    private long _childBytes;

    /// <summary>The children the zygote keeps parked now (the target it was last told).</summary>
    public int ParkTarget => Volatile.Read(ref _parkTarget);

    /// <summary>
    /// Tells the zygote the target the demand gives now, if it changed (a claim raised it, or the
    /// demand that raised it is forgotten); when that is fewer than it has parked, thawd lets the
    /// newest go (their sockets close, they exit, their cgroups return to the pool).
    /// </summary>
    private void Replan()
    {
        int target;
        lock (_replanLock)
        {
            target = _demand.Target(ChildBytes);
            if (target == _parkTarget || _closed)
                return;
            Volatile.Write(ref _parkTarget, target);
            try { Send(new ZygoteRequest { Op = "park", Target = target }); }
            catch (Exception e) when (e is LinuxException or SocketException or ObjectDisposedException) { return; }
        }
        List<ParkedChild> extra = [];
        lock (_parkedLock)
        {
            while (_parked.Count > target && _parked.Last is { } last)
            {
                _parked.RemoveLast();
                extra.Add(last.Value);
            }
        }
        foreach (var child in extra)
            Discard(child);
    }

    internal void Send(ZygoteRequest request, params ReadOnlySpan<SafeFd> fds)
    {
        byte[] payload = JsonSerializer.SerializeToUtf8Bytes(request, ZygoteJson.Default.ZygoteRequest);
        lock (_sendLock)
            FdPassing.Send(_fd, payload, fds);
    }

    private ZygoteMessage? ReceiveOne()
    {
        var (n, fds) = FdPassing.Receive(_fd, _receiveBuffer, maxFds: 1);
        if (n == 0 && fds.Length == 0)
            return null;
        ZygoteMessage? message = null;
        try
        {
            message = JsonSerializer.Deserialize(_receiveBuffer.AsSpan(0, n), ZygoteJson.Default.ZygoteMessage);
            if (message is { Op: "parked", Pid: int pid } && fds.Length == 1)
            {
                var child = new ParkedChild(pid, fds[0]);
                fds = [];
                Dress(child);
                lock (_parkedLock)
                {
                    if (!_closed)
                    {
                        _parked.AddLast(child);
                        child = null;
                    }
                }
                if (child is not null)
                    Discard(child);
            }
            return message;
        }
        finally
        {
            foreach (var fd in fds) // only a parked event carries one
                fd.Dispose();
        }
    }

    private void ReadLoop()
    {
        // Nothing a zygote does (dies mid-message, resets the connection, sends garbage) may end
        // thawd: whatever ends this loop is the zygote's end, reported to whoever waits on it.
        Exception? error = null;
        try
        {
            while (ReceiveOne() is { } message)
                Dispatch(message);
        }
        catch (Exception e)
        {
            // ECONNRESET (recvmsg) when it died with requests unread; a disposed socket when thawd closed it.
            error = e is ObjectDisposedException ? null : e;
        }
        _replan?.Dispose();
        lock (_parkedLock)
        {
            _closed = true;
            Quietly(DiscardParked, ref error);
        }
        foreach (var (_, reply) in _replies)
            reply.TrySetException(new ZygoteGoneException("the zygote exited before replying", error));
        foreach (var id in _sandboxes.Keys)
            if (_sandboxes.TryRemove(id, out var events))
                Quietly(events.OnZygoteLost, ref error);
        foreach (var pid in _claimed.Keys)
            if (_claimed.TryRemove(pid, out var events))
                Quietly(events.OnZygoteLost, ref error);
        var closed = Closed;
        Quietly(() => closed?.Invoke(error), ref error);
    }

    /// <summary>Runs one step of the close; a failure is kept (the first one) for the Closed event, never thrown off this thread.</summary>
    private static void Quietly(Action step, ref Exception? error)
    {
        try { step(); }
        catch (Exception e) { error ??= e; }
    }

    /// <summary>
    /// Gives a new parked child a pooled cgroup to join (before anyone can claim it: this runs before
    /// it is listed). The child waits for this join before it warms up, so all it copies is charged
    /// to that cgroup. Without a cgroup (no pool, or the claim failed) the join carries none: the child
    /// stays usable and joins its cgroup at spawn.
    /// </summary>
    private void Dress(ParkedChild child)
    {
        SandboxCgroup? cgroup = null;
        try
        {
            cgroup = _cgroups?.Claim();
        }
        catch (Exception e) when (e is LinuxException or IOException or InvalidOperationException or ObjectDisposedException)
        {
            cgroup = null;
        }
        try
        {
            FdPassing.Send(child.Socket, JoinMessage, cgroup is null ? [] : [.. cgroup.ProcsFds]);
            child.Cgroup = cgroup;
        }
        catch (Exception e) when (e is LinuxException or ObjectDisposedException)
        {
            // It died already: its exit event follows, and a claim's send would fail the same way.
            if (cgroup is not null)
                _cgroups!.Release(cgroup);
        }
    }

    /// <summary>A parked child nobody will claim: its socket closes (it exits) and its cgroup goes back (killing it if still there).</summary>
    public void Discard(ParkedChild child)
    {
        child.Socket.Dispose();
        if (child.Cgroup is { } cgroup)
            _cgroups!.Release(cgroup);
    }

    private void DiscardParked()
    {
        foreach (var child in _parked)
            Discard(child);
        _parked.Clear();
    }

    private void Dispatch(ZygoteMessage message)
    {
        switch (message.Op)
        {
            case "spawned" or "error" or "zygote-forked" when message.Id is not null && _replies.TryGetValue(message.Id, out var reply):
                if (message is { Started: true, Pid: int started } && _sandboxes.TryGetValue(message.Id, out var running))
                    running.OnStarted(started);
                reply.TrySetResult(message);
                break;
            case "started" when message.Pid is int pid && EventsOf(message, remove: false) is { } events:
                events.OnStarted(pid);
                break;
            case "exit" when EventsOf(message, remove: true) is { } events:
                events.OnExited(message.Code, message.Signal, message.Error);
                break;
            case "exit" when message is { Id: null, Pid: int pid }:
                ForgetParked(pid); // died parked, before anyone claimed it
                break;
        }
    }

    /// <summary>Who hears of a sandbox: named by id if the zygote spawned it, by pid if thawd claimed it from a parked child.</summary>
    private IZygoteEvents? EventsOf(ZygoteMessage message, bool remove)
    {
        IZygoteEvents? events;
        if (message.Id is { } id)
            _ = remove ? _sandboxes.TryRemove(id, out events) : _sandboxes.TryGetValue(id, out events);
        else if (message.Pid is int pid)
            _ = remove ? _claimed.TryRemove(pid, out events) : _claimed.TryGetValue(pid, out events);
        else
            events = null;
        return events;
    }

    private void ForgetParked(int pid)
    {
        lock (_parkedLock)
        {
            for (var node = _parked.First; node is not null; node = node.Next)
            {
                if (node.Value.Pid == pid)
                {
                    _parked.Remove(node);
                    Discard(node.Value);
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Closes the connection: the zygote kills every sandbox it started and exits. Goodbye first:
    /// a close without it is thawd's crash, after which the zygote also kills the sandboxes thawd
    /// cloned itself (PROTOCOL.md, "goodbye"), which here live on (another spawner's, or this one's
    /// until it kills them).
    /// </summary>
    public void Dispose()
    {
        _replan?.Dispose();
        if (!_closed)
        {
            try { Send(new ZygoteRequest { Op = "goodbye" }); }
            catch (Exception e) when (e is LinuxException or SocketException or ObjectDisposedException) { }
        }
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { }
        if (_reader.IsAlive && Thread.CurrentThread != _reader)
            _reader.Join(TimeSpan.FromSeconds(5));
        _socket.Dispose();
        lock (_parkedLock)
            DiscardParked();
    }
}
