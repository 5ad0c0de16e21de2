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

    /// <summary>Reads one frame; null when the sandbox closed its end (it exited).</summary>
    public static async Task<JsonDocument?> ReadAsync(Socket socket, CancellationToken token)
    {
        byte[] header = new byte[4];
        if (!await ReadExactlyAsync(socket, header, token).ConfigureAwait(false))
            return null;
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > MaxFrameBytes)
            throw new InvalidDataException($"the sandbox sent a {length} byte frame, over the {MaxFrameBytes >> 20} MiB limit");
        byte[] body = new byte[length];
        if (!await ReadExactlyAsync(socket, body, token).ConfigureAwait(false))
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
