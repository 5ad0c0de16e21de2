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

    /// <summary>
    /// Reads one frame; null when the sandbox closed its end (it exited). The first receive takes as
    /// much as <paramref name="scratch"/> holds, so a reply that fits (nearly all do) costs one
    /// receive, not two (syscalls are most of a warm call's cost on this VM). The document may point
    /// into <paramref name="scratch"/>: dispose it before the buffer is used again.
    /// </summary>
    public static async Task<JsonDocument?> ReadAsync(Socket socket, byte[] scratch, CancellationToken token)
    {
        int got = 0;
        while (got < 4)
        {
            int n = await socket.ReceiveAsync(scratch.AsMemory(got), SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
                return got == 0 ? null : throw new InvalidDataException("the sandbox closed its invoke socket in the middle of a frame");
            got += n;
        }
        uint length = BinaryPrimitives.ReadUInt32BigEndian(scratch);
        if (length > MaxFrameBytes)
            throw new InvalidDataException($"the sandbox sent a {length} byte frame, over the {MaxFrameBytes >> 20} MiB limit");
        if (got > 4 + length)
            throw new InvalidDataException("the sandbox sent more than one frame (it answers one request at a time)");
        if (4 + length <= scratch.Length)
        {
            if (!await ReadExactlyAsync(socket, scratch.AsMemory(got, 4 + (int)length - got), token).ConfigureAwait(false))
                throw new InvalidDataException("the sandbox closed its invoke socket in the middle of a frame");
            return JsonDocument.Parse(scratch.AsMemory(4, (int)length));
        }
        byte[] body = new byte[length];
        scratch.AsSpan(4, got - 4).CopyTo(body);
        if (!await ReadExactlyAsync(socket, body.AsMemory(got - 4), token).ConfigureAwait(false))
            throw new InvalidDataException("the sandbox closed its invoke socket in the middle of a frame");
        return JsonDocument.Parse(body);
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken token)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None, token).ConfigureAwait(false);
            if (n == 0)
                return false;
            read += n;
        }
        return true;
    }
}
