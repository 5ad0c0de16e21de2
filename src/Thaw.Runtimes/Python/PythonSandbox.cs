using System.Globalization;
using System.Text.Json;
using Thaw.Sandboxes;

namespace Thaw.Runtimes.Python;

/// <summary>
/// A Python function's sandbox after its handler module was imported: serves one call at a time
/// over its invoke socket until deleted. A call that outlives its timeout kills the sandbox (the
/// handler may be stuck anywhere), so a timed-out sandbox never serves again.
/// </summary>
public sealed class PythonSandbox : IAsyncDisposable
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    /// <summary>Where replies are received (one call at a time, so one reader and its buffer).</summary>
    private readonly FrameReader _frames;
    private readonly TimeSpan _killTimeout;
    private readonly TimeSpan _stopGrace;
    // The call sent ahead of the ready frame, its reply not read yet (see FirstCall).
    private FirstCall? _sentAhead;
    private long _calls;
    private bool _profiled;

    internal PythonSandbox(Sandbox sandbox, FrameReader frames, double initMs, TimeSpan stopGrace, TimeSpan killTimeout, FirstCall? sentAhead)
    {
        _stopGrace = stopGrace;
        Sandbox = sandbox;
        _frames = frames;
        InitMs = initMs;
        _killTimeout = killTimeout;
        _sentAhead = sentAhead;
        _calls = sentAhead is null ? 0 : 1;
    }

    /// <summary>The id of a sandbox's <paramref name="n"/>th call (the handler's context shows it as aws_request_id).</summary>
    internal static string CallId(Sandbox sandbox, long n) => sandbox.Id + "-" + n.ToString(CultureInfo.InvariantCulture);

    public Sandbox Sandbox { get; }

    /// <summary>The zygote it was forked from (the root, or a node of the import cache).</summary>
    public Thaw.Sandboxes.Zygotes.Zygote ForkedFrom { get; init; } = null!;

    /// <summary>How long the handler module's import and init took inside the sandbox.</summary>
    public double InitMs { get; }

    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>
    /// False once the sandbox exited or was killed; such a sandbox is only good for deleting. (Not
    /// "Running": its ready frame can overtake the zygote's started event.)
    /// </summary>
    public bool IsServing => Sandbox.Status != SandboxStatus.Stopped && !Sandbox.Exited.IsCompleted;

    /// <summary>
    /// Calls the handler with <paramref name="eventJson"/> (one JSON value, not parsed here). The
    /// sandbox's <see cref="FirstCall"/>, if it was started with one, is this call when the event is the same memory: only its reply is read.
    /// </summary>
    public async Task<Invocation> InvokeAsync(ReadOnlyMemory<byte> eventJson, TimeSpan timeout, CancellationToken token = default)
    {
        var socket = Sandbox.Channel ?? throw new InvalidOperationException($"sandbox {Sandbox.Id} does not serve the handler runtime");
        await _oneAtATime.WaitAsync(token).ConfigureAwait(false);
        try
        {
            if (!IsServing)
                throw await GoneAsync(delivered: false).ConfigureAwait(false); // known dead before anything was sent
            var sentAhead = _sentAhead;
            _sentAhead = null;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(timeout);
            JsonDocument? reply;
            bool sent = sentAhead is not null && sentAhead.Event.Equals(eventJson);
            try
            {
                if (!sent)
                {
                    if (sentAhead is not null)
                        (await _frames.ReadAsync(deadline.Token).ConfigureAwait(false))?.Dispose(); // its reply nobody asked for
                    string id = CallId(Sandbox, Interlocked.Increment(ref _calls));
                    await InvocationFrames.WriteInvokeAsync(socket, id, (long)timeout.TotalMilliseconds, eventJson, deadline.Token).ConfigureAwait(false);
                    sent = true;
                }
                reply = await _frames.ReadAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                Sandbox.Kill();
                throw new TimeoutException($"the handler did not return within {Units.FormatDuration(timeout)}; its sandbox was killed");
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or EndOfStreamException)
            {
                Sandbox.Kill();
                // The kernel resets a Unix socket closed with data unread: a sandbox that died (a frozen
                // one killed from outside dies as it thaws) before it read the call never saw it.
                bool delivered = sent && e is not System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset };
                throw new SandboxGoneException(Sandbox.Id, e.Message, SandboxFault.Died, delivered);
            }
            catch (Exception e) when (e is InvalidDataException or JsonException)
            {
                throw Broken(e.Message);
            }
            if (reply is null)
                throw await GoneAsync().ConfigureAwait(false);
            // After its first call a sandbox has written what its handler needs: the zygote learns
            // which pages those are, and pre-faults them in the children it parks for the next ones.
            if (!_profiled && Sandbox.Pid is int pid)
            {
                _profiled = true;
                ForkedFrom?.LearnTouches(pid);
            }
            using (reply)
            {
                try
                {
                    return Read(reply.RootElement);
                }
                catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
                {
                    throw Broken($"its reply is not a result or error frame ({e.Message})");
                }
            }
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private static Invocation Read(JsonElement reply)
    {
        double ms = reply.TryGetProperty("ms", out var m) ? m.GetDouble() : double.NaN;
        if (reply.GetProperty("op").GetString() == "result")
            return new Invocation(reply.GetProperty("result").Clone(), null, ms);
        var e = reply.GetProperty("error");
        return new Invocation(null, new HandlerError(e.GetProperty("type").GetString() ?? "Error", e.GetProperty("message").GetString() ?? "",
            e.GetProperty("traceback").GetString() ?? ""), ms);
    }

    /// <summary>
    /// The sandbox wrote what is not a reply frame (the handler wrote on the invoke socket, say): what
    /// it sends next cannot be trusted to line up with a call, so it is killed; its caller's 502 says why.
    /// </summary>
    private SandboxGoneException Broken(string why)
    {
        Sandbox.Kill();
        return new SandboxGoneException(Sandbox.Id, $"it broke the invoke protocol: {why}; it was killed", SandboxFault.BrokenProtocol);
    }

    /// <summary>Why the sandbox stopped: its exit, with the memory limit named when the OOM killer ended it.</summary>
    private async Task<SandboxGoneException> GoneAsync(bool delivered = true)
    {
        SandboxExit exit;
        try
        {
            exit = await Sandbox.Exited.WaitAsync(_killTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Not the call's timeout (a 504): the sandbox is gone, its exit just not reported yet.
            return new SandboxGoneException(Sandbox.Id, $"it stopped (its exit not reported within {_killTimeout.TotalSeconds:0.#} s)", delivered: delivered);
        }
        return exit.OomKilled
            ? new SandboxGoneException(Sandbox.Id, $"it ran out of memory (limit {(Sandbox.Spec.Limits ?? Sandbox.Cgroup.Limits)?.MemoryLimitBytes >> 20} MiB) and was killed", SandboxFault.OutOfMemory, delivered)
            : new SandboxGoneException(Sandbox.Id, $"it stopped ({exit})", delivered: delivered);
    }

    /// <summary>
    /// Closes the invoke socket, on which the runtime exits by itself; kills it if it has not within
    /// <see cref="PythonRuntimeOptions.StopGrace"/>. Returns once its resources are back in their pools.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (!Sandbox.Exited.IsCompleted)
        {
            try { Sandbox.Channel?.Shutdown(System.Net.Sockets.SocketShutdown.Both); }
            catch (Exception e) when (e is ObjectDisposedException or System.Net.Sockets.SocketException) { }
            try { await Sandbox.Exited.WaitAsync(_stopGrace).ConfigureAwait(false); }
            catch (TimeoutException) { }
        }
        await Sandbox.DeleteAsync(_killTimeout).ConfigureAwait(false);
        _oneAtATime.Dispose();
    }
}
