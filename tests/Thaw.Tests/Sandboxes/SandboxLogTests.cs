using System.Net.Sockets;
using Thaw.Linux.Sockets;
using Thaw.Sandboxes;

namespace Thaw.Tests.Sandboxes;

/// <summary>The bounded log: grows only as output comes, keeps the newest bytes once full, counts the rest.</summary>
public sealed class SandboxLogTests
{
    [Theory]
    [InlineData(10, 3)]          // far below the first 4 KiB
    [InlineData(5000, 7)]        // grows past 4 KiB, never wraps
    [InlineData(100_000, 13)]    // wraps many times, chunks not aligned to the ring
    public async Task Keeps_exactly_the_newest_bytes_up_to_the_limit(int total, int chunk)
    {
        const int limit = 16 << 10;
        var (here, there) = FdPassing.SocketPair(SocketType.Stream);
        int raw = here.Value;
        here.SetHandleAsInvalid();
        var log = SandboxLog.Pump(new Socket(new SafeSocketHandle(raw, ownsHandle: true)), limit, sink: null);
        var written = Enumerable.Range(0, total).Select(i => (byte)(i * 7 % 251)).ToArray();
        using (there)
        {
            for (int i = 0; i < total; i += chunk)
                Thaw.Linux.Files.FileDescriptors.Write(there, written.AsSpan(i, Math.Min(chunk, total - i)));
        }
        await log.Completion.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(total, log.TotalBytes);
        Assert.Equal(Math.Max(0, total - limit), log.DroppedBytes);
        Assert.Equal(written[Math.Max(0, total - limit)..], log.ToArray());
    }
}
