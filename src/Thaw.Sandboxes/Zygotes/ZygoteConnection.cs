using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json;
using Thaw.Linux;
using Thaw.Linux.Sockets;

namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// thawd's end of the zygote protocol (src/python/PROTOCOL.md): one SEQPACKET connection, requests
/// with fds sent from any thread, replies and events read by one dedicated thread. When the zygote
/// goes away every pending request fails and every sandbox it held hears about it.
/// </summary>
internal sealed class ZygoteConnection : IDisposable
{
    public const int ProtocolVersion = 1;
    private const int MaxMessage = 64 * 1024;

    private readonly Socket _socket;
    private readonly SafeFd _fd;
    private readonly Lock _sendLock = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<ZygoteMessage>> _replies = new();
    private readonly ConcurrentDictionary<string, IZygoteEvents> _sandboxes = new();
    private readonly Thread _reader;
    // One buffer for the one reader thread: a fresh 64 KiB per message was most of thawd's memset time.
    private readonly byte[] _receiveBuffer = new byte[MaxMessage];
    private volatile bool _closed;

    private ZygoteConnection(Socket socket, string name)
    {
        _socket = socket;
        _fd = new SafeFd((int)socket.Handle, ownsHandle: false);
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = name };
    }

    /// <summary>Raised once, on the reader thread, when the zygote closes the connection or dies.</summary>
    public event Action? Closed;

    public bool IsOpen => !_closed;

    /// <summary>Connects and checks the protocol version; the zygote accepts exactly one connection.</summary>
    public static ZygoteConnection Connect(string socketPath, string name)
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
        return Over(socket, name, Timeout.InfiniteTimeSpan).Connection;
    }

    /// <summary>
    /// Speaks the protocol over an already connected socket (a child zygote's, made by fork-zygote):
    /// the hello exchange, then the reader thread. Takes the socket over, also on failure.
    /// </summary>
    public static (ZygoteConnection Connection, ZygoteMessage Hello) Over(Socket socket, string name, TimeSpan timeout)
    {
        try
        {
            var connection = new ZygoteConnection(socket, name);
            connection.Send(new ZygoteRequest { Op = "hello", Version = ProtocolVersion });
            socket.ReceiveTimeout = timeout == Timeout.InfiniteTimeSpan ? 0 : (int)Math.Max(1, timeout.TotalMilliseconds);
            ZygoteMessage hello;
            try
            {
                hello = connection.ReceiveOne() ?? throw new ZygoteException("the zygote closed the connection during hello");
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                throw new ZygoteException($"the zygote did not answer hello within {timeout.TotalSeconds:0.#} s");
            }
            socket.ReceiveTimeout = 0;
            if (hello.Op != "hello" || hello.Version != ProtocolVersion)
                throw new ZygoteException($"the zygote speaks protocol {hello.Version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}, thawd {ProtocolVersion}: {hello.Error}");
            connection._reader.Start();
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
                throw new ZygoteException("the zygote is gone");
            Send(request, fds);
            var message = await reply.Task.ConfigureAwait(false);
            return message.Op == "error" ? throw new ZygoteException(message.Error ?? "the zygote refused the request") : message;
        }
        finally
        {
            _replies.TryRemove(id, out _);
        }
    }

    /// <summary>Sends a spawn request; <paramref name="events"/> hears the sandbox's start and exit.</summary>
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

    /// <summary>Asks the zygote to signal a sandbox; the exit event follows. A gone zygote is no error.</summary>
    public void Kill(string id, int signal)
    {
        if (_closed)
            return;
        try { Send(new ZygoteRequest { Op = "kill", Id = id, Signal = signal }); }
        catch (Exception e) when (e is LinuxException or SocketException or ObjectDisposedException) { }
    }

    private void Send(ZygoteRequest request, params ReadOnlySpan<SafeFd> fds)
    {
        byte[] payload = JsonSerializer.SerializeToUtf8Bytes(request, ZygoteJson.Default.ZygoteRequest);
        lock (_sendLock)
            FdPassing.Send(_fd, payload, fds);
    }

    private ZygoteMessage? ReceiveOne()
    {
        int n = _socket.Receive(_receiveBuffer);
        return n == 0 ? null : JsonSerializer.Deserialize(_receiveBuffer.AsSpan(0, n), ZygoteJson.Default.ZygoteMessage);
    }

    private void ReadLoop()
    {
        try
        {
            while (ReceiveOne() is { } message)
                Dispatch(message);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or JsonException)
        {
            // The zygote died mid-message or the connection was disposed: handled as a close.
        }
        _closed = true;
        foreach (var (_, reply) in _replies)
            reply.TrySetException(new ZygoteException("the zygote exited before replying"));
        foreach (var id in _sandboxes.Keys)
            if (_sandboxes.TryRemove(id, out var events))
                events.OnZygoteLost();
        Closed?.Invoke();
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
            case "started" when message.Id is not null && message.Pid is int pid && _sandboxes.TryGetValue(message.Id, out var events):
                events.OnStarted(pid);
                break;
            case "exit" when message.Id is not null && _sandboxes.TryRemove(message.Id, out var events):
                events.OnExited(message.Code, message.Signal, message.Error);
                break;
        }
    }

    /// <summary>Closes the connection: the zygote kills every sandbox it started and exits.</summary>
    public void Dispose()
    {
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { }
        if (_reader.IsAlive && Thread.CurrentThread != _reader)
            _reader.Join(TimeSpan.FromSeconds(5));
        _socket.Dispose();
    }
}
