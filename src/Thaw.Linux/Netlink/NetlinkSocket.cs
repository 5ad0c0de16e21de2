using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Thaw.Linux.Netlink;

/// <summary>
/// A NETLINK_ROUTE socket. It configures the network namespace it was created in, from whichever
/// thread calls it, so a namespace's socket is made inside it once (see NamespaceThread) and kept.
/// Requests are synchronous: send, then read until the ack or the end of the dump.
/// </summary>
public sealed partial class NetlinkSocket : IDisposable
{
    private readonly SafeFd _fd;
    private readonly Lock _lock = new();
    private readonly byte[] _receive = new byte[64 * 1024];
    private uint _sequence;

    public NetlinkSocket() : this(new SafeFd(LinuxException.ThrowIfFailed(
        Interop.Socket(Interop.AF_NETLINK, Interop.SOCK_RAW | Interop.SOCK_CLOEXEC, Interop.NETLINK_ROUTE),
        "socket", "AF_NETLINK")))
    { }

    /// <summary>Takes ownership of a netlink socket fd made elsewhere (e.g. inside another netns).</summary>
    public NetlinkSocket(SafeFd fd) => _fd = fd;

    /// <summary>Sends a request and waits for its ack; throws a LinuxException naming <paramref name="what"/>.</summary>
    internal void Request(NetlinkMessage message, string what) => Exchange(message, what, null, dump: false);

    /// <summary>Sends a request whose answer is one message (a GET by name), passed to <paramref name="reply"/>.</summary>
    internal void Request(NetlinkMessage message, string what, Action<ushort, ReadOnlySpan<byte>>? reply) =>
        Exchange(message, what, reply, dump: false);

    /// <summary>Runs a dump request, calling <paramref name="each"/> with each reply's payload (after nlmsghdr).</summary>
    internal void Dump(NetlinkMessage message, string what, Action<ushort, ReadOnlySpan<byte>> each) =>
        Exchange(message, what, each, dump: true);

    /// <summary>
    /// Sends one request and reads its answers: an error or ack ends it, as does NLMSG_DONE after a
    /// dump; other messages go to <paramref name="handle"/> (the first one ends a non-dump request).
    /// </summary>
    private void Exchange(NetlinkMessage message, string what, Action<ushort, ReadOnlySpan<byte>>? handle, bool dump)
    {
        lock (_lock)
        {
            uint seq = ++_sequence;
            SendLocked(message.Finish(seq), what);
            while (true)
            {
                int n = ReceiveLocked(what);
                for (int off = 0; off + 16 <= n;)
                {
                    var (len, type, msgSeq) = Header(off);
                    if (len < 16) return;
                    if (msgSeq == seq)
                    {
                        if (type == Rt.NLMSG_ERROR)
                        {
                            int error = BinaryPrimitives.ReadInt32LittleEndian(_receive.AsSpan(off + 16));
                            if (error != 0)
                                throw new LinuxException("netlink", -error, what);
                            return;
                        }
                        if (type == Rt.NLMSG_DONE)
                            return;
                        if (handle is not null)
                        {
                            handle(type, _receive.AsSpan(off + 16, len - 16));
                            if (!dump)
                                return;
                        }
                    }
                    off += NetlinkMessage.Align(len);
                }
            }
        }
    }

    private (int Length, ushort Type, uint Sequence) Header(int off) => (
        (int)BinaryPrimitives.ReadUInt32LittleEndian(_receive.AsSpan(off)),
        BinaryPrimitives.ReadUInt16LittleEndian(_receive.AsSpan(off + 4)),
        BinaryPrimitives.ReadUInt32LittleEndian(_receive.AsSpan(off + 8)));

    private unsafe void SendLocked(ReadOnlySpan<byte> bytes, string what)
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = bytes)
            {
                while (Interop.Send(_fd.Value, p, bytes.Length, 0) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != 4)
                        throw new LinuxException("send", errno, "netlink " + what);
                }
            }
        }
        finally { if (added) _fd.DangerousRelease(); }
    }

    private unsafe int ReceiveLocked(string what)
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = _receive)
            {
                while (true)
                {
                    nint n = Interop.Recv(_fd.Value, p, _receive.Length, 0);
                    if (n >= 0) return (int)n;
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != 4)
                        throw new LinuxException("recv", errno, "netlink " + what);
                }
            }
        }
        finally { if (added) _fd.DangerousRelease(); }
    }

    public void Dispose() => _fd.Dispose();
}
