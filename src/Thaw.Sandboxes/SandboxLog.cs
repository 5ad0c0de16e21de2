using System.Net.Sockets;
using System.Text;

namespace Thaw.Sandboxes;

/// <summary>
/// One output stream of a sandbox (stdout or stderr), read from its socket as it comes and kept in a
/// bounded ring: a chatty or hostile program cannot grow thawd's memory, the newest bytes win. The
/// ring starts small and grows up to the limit only as output arrives: most sandboxes print little,
/// and zeroing a full-size ring for every sandbox was a measured share of thawd's CPU in bursts.
/// </summary>
public sealed class SandboxLog
{
    private const int InitialBytes = 4096;
    private readonly int _limit;
    private byte[] _ring;
    private readonly Lock _lock = new();
    private readonly Action<ReadOnlyMemory<byte>>? _sink;
    private long _total;
    private Socket? _socket;

    private SandboxLog(int limit, Action<ReadOnlyMemory<byte>>? sink)
    {
        _limit = limit;
        _ring = [];
        _sink = sink;
    }

    /// <summary>Completes when the sandbox side is closed by every process that held it.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Everything the sandbox wrote, including what the ring no longer holds.</summary>
    public long TotalBytes
    {
        get { lock (_lock) return _total; }
    }

    public long DroppedBytes => Math.Max(0, TotalBytes - _limit);

    /// <summary>Starts reading <paramref name="socket"/> (owned from here on) into a new log.</summary>
    internal static SandboxLog Pump(Socket socket, int limit, Action<ReadOnlyMemory<byte>>? sink)
    {
        var log = new SandboxLog(limit, sink) { _socket = socket };
        log.Completion = log.ReadAsync(socket);
        return log;
    }

    /// <summary>Stops reading: a process outside the sandbox's pid namespace kept the stream open.</summary>
    internal void Abort() => _socket?.Dispose();

    /// <summary>The kept bytes, oldest first.</summary>
    public byte[] ToArray()
    {
        lock (_lock)
        {
            if (_ring.Length < _limit)
                return _ring.AsSpan(0, (int)_total).ToArray(); // not wrapped yet
            int kept = (int)Math.Min(_total, _ring.Length);
            var result = new byte[kept];
            int start = (int)((_total - kept) % _ring.Length);
            int first = Math.Min(kept, _ring.Length - start);
            Array.Copy(_ring, start, result, 0, first);
            Array.Copy(_ring, 0, result, first, kept - first);
            return result;
        }
    }

    /// <summary>The kept bytes as UTF-8 text.</summary>
    public override string ToString() => Encoding.UTF8.GetString(ToArray());

    private async Task ReadAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int n;
                while ((n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false)) > 0)
                {
                    Append(buffer.AsSpan(0, n));
                    _sink?.Invoke(buffer.AsMemory(0, n));
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // A reset from the sandbox side, or Abort, ends the log like a close.
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private void Append(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (_ring.Length < _limit && _total + data.Length > _ring.Length)
            {
                // Grow (doubling, up to the limit) while nothing has wrapped: the bytes stay in place.
                long needed = Math.Min(_limit, _total + data.Length);
                var grown = new byte[(int)Math.Min(_limit, Math.Max(needed, Math.Max(InitialBytes, 2L * _ring.Length)))];
                _ring.AsSpan(0, (int)_total).CopyTo(grown);
                _ring = grown;
            }
            if (data.Length > _ring.Length)
            {
                // Only the tail can be kept; the skipped bytes still count.
                _total += data.Length - _ring.Length;
                data = data[^_ring.Length..];
            }
            int at = (int)(_total % _ring.Length);
            int first = Math.Min(data.Length, _ring.Length - at);
            data[..first].CopyTo(_ring.AsSpan(at));
            data[first..].CopyTo(_ring);
            _total += data.Length;
        }
    }
}
