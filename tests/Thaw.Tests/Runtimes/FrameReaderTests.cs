using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Thaw.Runtimes.Python;

namespace Thaw.Tests.Runtimes;

/// <summary>The invoke socket's frame reader over a real Unix socket pair: frames that share a receive, span the buffer, or outgrow it.</summary>
public sealed class FrameReaderTests : IDisposable
{
    private readonly Socket _here;
    private readonly Socket _there;

    public FrameReaderTests()
    {
        var (a, b) = Thaw.Linux.Sockets.FdPassing.SocketPair(SocketType.Stream);
        _here = Adopt(a);
        _there = Adopt(b);
    }

    private static Socket Adopt(Thaw.Linux.SafeFd fd)
    {
        int raw = fd.Value;
        fd.SetHandleAsInvalid();
        return new Socket(new SafeSocketHandle(raw, ownsHandle: true));
    }

    private static byte[] Frame(string json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        byte[] frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }

    private async Task<string?> NextAsync(FrameReader reader)
    {
        using var doc = await reader.ReadAsync(CancellationToken.None);
        return doc?.RootElement.GetProperty("op").GetString();
    }

    [Fact]
    public async Task Two_frames_sent_in_one_write_are_read_as_two_then_end_of_stream_is_null()
    {
        // What a cold call sent ahead produces: the ready frame and the first result back to back.
        _there.Send([.. Frame("""{"op":"ready"}"""), .. Frame("""{"op":"result","result":1}""")]);
        _there.Shutdown(SocketShutdown.Send);
        var reader = new FrameReader(_here);
        Assert.Equal("ready", await NextAsync(reader));
        Assert.Equal("result", await NextAsync(reader));
        Assert.Null(await NextAsync(reader));
    }

    [Fact]
    public async Task A_frame_that_straddles_the_buffer_end_and_one_larger_than_the_buffer_arrive_intact()
    {
        string padding = new('x', 12_000);
        string big = new('y', 100_000);
        _there.Send([.. Frame($$"""{"op":"a","pad":"{{padding}}"}"""), .. Frame($$"""{"op":"b","pad":"{{padding}}"}""")]);
        var reader = new FrameReader(_here);
        var sending = Task.Run(() => _there.Send(Frame($$"""{"op":"c","big":"{{big}}"}""")));
        Assert.Equal("a", await NextAsync(reader));
        Assert.Equal("b", await NextAsync(reader)); // moved to the front of the buffer to be completed
        using (var doc = await reader.ReadAsync(CancellationToken.None))
            Assert.Equal(big, doc!.RootElement.GetProperty("big").GetString());
        await sending;
    }

    [Fact]
    public async Task A_stream_that_ends_mid_frame_is_an_error()
    {
        _there.Send(Frame("""{"op":"ready"}""").AsSpan(0, 7));
        _there.Shutdown(SocketShutdown.Send);
        await Assert.ThrowsAsync<EndOfStreamException>(() => new FrameReader(_here).ReadAsync(CancellationToken.None));
    }

    public void Dispose()
    {
        _here.Dispose();
        _there.Dispose();
    }
}
