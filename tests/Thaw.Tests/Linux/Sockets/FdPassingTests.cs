using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Thaw.Linux;
using Thaw.Linux.Sockets;

namespace Thaw.Tests.Linux.Sockets;

public sealed class FdPassingTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), "thaw-fdpass-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData(SocketType.Seqpacket)]
    [InlineData(SocketType.Stream)]
    public void A_file_fd_sent_over_a_socketpair_reads_the_file(SocketType type)
    {
        File.WriteAllText(_file, "contents behind the fd");
        var (a, b) = FdPassing.SocketPair(type);
        using (a)
        using (b)
        using (var file = File.OpenHandle(_file))
        {
            FdPassing.Send(a, "root"u8, Wrap(file));

            var buffer = new byte[16];
            var (length, fds) = FdPassing.Receive(b, buffer);

            Assert.Equal("root", Encoding.ASCII.GetString(buffer, 0, length));
            var received = Assert.Single(fds);
            Assert.NotEqual(file.DangerousGetHandle().ToInt32(), received.Value); // a new fd number
            using var stream = new FileStream(new SafeFileHandle(received.DangerousGetHandle(), ownsHandle: false), FileAccess.Read);
            Assert.Equal("contents behind the fd", new StreamReader(stream).ReadToEnd());
            Assert.True(IsCloseOnExec(received.Value));
            received.Dispose();
        }
    }

    [Fact]
    public void Several_fds_arrive_in_order_and_a_message_without_fds_has_none()
    {
        var (a, b) = FdPassing.SocketPair();
        var (x, y) = FdPassing.SocketPair();
        using (a) using (b) using (x) using (y)
        {
            FdPassing.Send(a, [1], x, y);
            FdPassing.Send(a, [2]);

            var buffer = new byte[4];
            var (_, two) = FdPassing.Receive(b, buffer);
            var (length, none) = FdPassing.Receive(b, buffer);

            Assert.Equal(2, two.Length);
            Assert.Empty(none);
            Assert.Equal(2, buffer[0]);
            Assert.Equal(1, length);
            // The received copy of y is connected to x: prove it by talking through it.
            FdPassing.Send(two[1], "ping"u8);
            Assert.Equal(4, FdPassing.Receive(x, buffer).Length);
            foreach (var fd in two) fd.Dispose();
        }
    }

    [Fact]
    public void More_fds_than_the_receiver_allows_is_an_error()
    {
        var (a, b) = FdPassing.SocketPair();
        using (a) using (b)
        {
            FdPassing.Send(a, [1], a, b, a);
            var e = Assert.Throws<IOException>(() => FdPassing.Receive(b, new byte[4], maxFds: 2));
            Assert.Contains("more than 2 fds", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_empty_payload_is_refused()
    {
        var (a, b) = FdPassing.SocketPair();
        using (a) using (b)
            Assert.Throws<ArgumentException>(() => FdPassing.Send(a, [], b));
    }

    [Fact]
    public void A_python_peer_receives_the_fd_and_writes_through_it()
    {
        File.WriteAllText(_file, "");
        var socketPath = _file + ".sock";
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen(1);
        const string peer = """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sys.argv[1])
            msg, fds, flags, addr = socket.recv_fds(s, 64, 4)
            os.write(fds[0], b"written by python after " + msg)
            s.sendall(b"done")
            """;
        using var python = Process.Start(new ProcessStartInfo("python3", ["-c", peer, socketPath]) { RedirectStandardError = true })!;
        using var connection = listener.Accept();
        using var file = File.OpenHandle(_file, FileMode.Open, FileAccess.Write);
        var socket = new SafeFd((int)connection.Handle, ownsHandle: false);

        FdPassing.Send(socket, "recv_fds"u8, Wrap(file));

        var buffer = new byte[8];
        Assert.Equal("done", Encoding.ASCII.GetString(buffer, 0, connection.Receive(buffer)));
        Assert.True(python.WaitForExit(10_000));
        Assert.True(python.ExitCode == 0, python.StandardError.ReadToEnd());
        Assert.Equal("written by python after recv_fds", File.ReadAllText(_file));
        File.Delete(socketPath);
    }

    private static SafeFd Wrap(SafeFileHandle handle) => new(handle.DangerousGetHandle().ToInt32(), ownsHandle: false);

    private static bool IsCloseOnExec(int fd) =>
        File.ReadAllLines($"/proc/self/fdinfo/{fd}").Single(l => l.StartsWith("flags:", StringComparison.Ordinal)) is var flags
        && (Convert.ToInt32(flags["flags:".Length..].Trim(), 8) & 0x80000) != 0;

    public void Dispose()
    {
        File.Delete(_file);
        File.Delete(_file + ".sock");
    }
}
