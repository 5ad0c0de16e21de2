using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text.Json;

namespace Thaw.Runtimes.Python;

/// <summary>
/// The invoke socket's framing (PROTOCOL.md, "Invocations"): a 4-byte big-endian length, then a
/// UTF-8 JSON object. Measured against HTTP/1.1 over the same Unix socket (Python both ends):
/// 42 µs vs 126 µs per round trip, and no parser in the sandbox beyond json.
/// </summary>
internal static class InvocationFrames
{
    /// <summary>The largest frame either side accepts (the runtime's own limit is the same).</summary>
    public const int MaxFrameBytes = 64 << 20;

    /// <summary>Sends {"op":"invoke","id":..,"timeout_ms":..,"event":EVENT} with the event's JSON spliced in unparsed.</summary>
    public static async Task WriteInvokeAsync(Socket socket, string id, long timeoutMs, ReadOnlyMemory<byte> eventJson, CancellationToken token)
    {
        byte[] head = JsonSerializer.SerializeToUtf8Bytes(new InvokeHead(id, timeoutMs), RuntimeJson.Default.InvokeHead);
        // {"op":"invoke","id":..,"timeout_ms":..} → drop the closing brace and append ,"event":EVENT}
        int length = head.Length - 1 + EventKey.Length + eventJson.Length + 1;
        if (length > MaxFrameBytes)
            throw new ArgumentException($"the event is {eventJson.Length} bytes, over the {MaxFrameBytes >> 20} MiB frame limit");
        byte[] header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)length);
        // One gathered send: header, head without its closing brace, the event key, the event as it came, the brace.
        ArraySegment<byte> @event = System.Runtime.InteropServices.MemoryMarshal.TryGetArray(eventJson, out var segment) ? segment : eventJson.ToArray();
        ArraySegment<byte>[] parts = [header, new ArraySegment<byte>(head, 0, head.Length - 1), EventKey, @event, Close];
        await socket.SendAsync(parts, SocketFlags.None).WaitAsync(token).ConfigureAwait(false);
    }

    private static readonly byte[] EventKey = ",\"event\":"u8.ToArray();
    private static readonly byte[] Close = "}"u8.ToArray();

}

/// <summary>
/// Reads frames off one sandbox's invoke socket. Each receive takes as much as the buffer holds, so
/// a frame that fits (nearly all do) costs one receive, not two (syscalls are most of a warm call's
/// cost on this VM); what a receive took beyond the frame is kept for the next read: a call sent
/// ahead of the ready frame (the cold start's first call) can be answered in the same receive.
/// A document returned may point into the buffer: dispose it before the next read.
/// </summary>
internal sealed class FrameReader(Socket socket)
{
    private readonly byte[] _buffer = new byte[16 << 10];
    private int _start;
    private int _end;

    /// <summary>Reads one frame; null when the sandbox closed its end (it exited) between frames.</summary>
    public async Task<JsonDocument?> ReadAsync(CancellationToken token)
    {
        if (!await FillAsync(4, token).ConfigureAwait(false))
            return _start == _end ? null : throw MidFrame();
        uint length = BinaryPrimitives.ReadUInt32BigEndian(_buffer.AsSpan(_start));
        if (length > InvocationFrames.MaxFrameBytes)
            throw new InvalidDataException($"the sandbox sent a {length} byte frame, over the {InvocationFrames.MaxFrameBytes >> 20} MiB limit");
        if (4 + length <= _buffer.Length)
        {
            if (!await FillAsync(4 + (int)length, token).ConfigureAwait(false))
                throw MidFrame();
            var document = JsonDocument.Parse(_buffer.AsMemory(_start + 4, (int)length));
            _start += 4 + (int)length;
            return document;
        }
        // Larger than the buffer: its own array, what was buffered first.
        byte[] body = new byte[length];
        int buffered = _end - _start - 4;
        _buffer.AsSpan(_start + 4, buffered).CopyTo(body);
        _start = _end = 0;
        for (int read = buffered; read < body.Length;)
        {
            int n = await socket.ReceiveAsync(body.AsMemory(read), SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
                throw MidFrame();
            read += n;
        }
        return JsonDocument.Parse(body);
    }

    /// <summary>Makes <paramref name="count"/> bytes from the read position buffered; false at end of stream first.</summary>
    private async Task<bool> FillAsync(int count, CancellationToken token)
    {
        if (_start == _end)
            _start = _end = 0;
        else if (_start + count > _buffer.Length)
        {
            // Move what is left to the front (the documents it backed were disposed, as the contract says).
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        while (_end - _start < count)
        {
            int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
                return false;
            _end += n;
        }
        return true;
    }

    /// <summary>Not a broken frame: the sandbox died while it wrote one.</summary>
    private static EndOfStreamException MidFrame() => new("the sandbox closed its invoke socket in the middle of a frame");
}
