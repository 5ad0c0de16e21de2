using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Thaw.Linux.Sockets;

/// <summary>
/// File descriptors over Unix sockets (SCM_RIGHTS). thawd hands a sandbox's resources to a zygote
/// this way (root dir, netns, cgroup), so the zygote needs no view of the host's paths.
/// </summary>
public static class FdPassing
{
    /// <summary>SCM_MAX_FD: the most fds the kernel accepts in one message.</summary>
    public const int MaxFds = 253;

    private const int EINTR = 4;
    private const int MSG_TRUNC = 0x20;
    private const int MSG_CTRUNC = 0x08;
    private static readonly int HeaderSize = Align(Marshal.SizeOf<Interop.CmsgHdr>());

    /// <summary>A connected pair of AF_UNIX sockets, close-on-exec.</summary>
    public static (SafeFd First, SafeFd Second) SocketPair(SocketType type = SocketType.Seqpacket)
    {
        int kernelType = type switch
        {
            SocketType.Stream => Interop.SOCK_STREAM,
            SocketType.Seqpacket => Interop.SOCK_SEQPACKET,
            SocketType.Dgram => Interop.SOCK_DGRAM,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "AF_UNIX pairs are stream, seqpacket or dgram"),
        };
        Span<int> fds = stackalloc int[2];
        unsafe
        {
            fixed (int* p = fds)
                LinuxException.ThrowIfFailed(Interop.SocketPair(Interop.AF_UNIX, kernelType | Interop.SOCK_CLOEXEC, 0, p), "socketpair", type.ToString());
        }
        return (new SafeFd(fds[0]), new SafeFd(fds[1]));
    }

    /// <summary>
    /// Sends <paramref name="payload"/> with <paramref name="fds"/> attached. The payload must not be
    /// empty: on a stream socket ancillary data travels only with at least one byte of data.
    /// </summary>
    public static unsafe void Send(SafeFd socket, ReadOnlySpan<byte> payload, params ReadOnlySpan<SafeFd> fds)
    {
        if (payload.IsEmpty)
            throw new ArgumentException("an fd-passing message needs at least one byte of payload", nameof(payload));
        if (fds.Length > MaxFds)
            throw new ArgumentOutOfRangeException(nameof(fds), fds.Length, $"at most {MaxFds} fds per message");

        var refs = new List<SafeHandle>(fds.Length + 1);
        try
        {
            AddRef(socket, refs);
            int controlLength = fds.IsEmpty ? 0 : Space(fds.Length * sizeof(int));
            // long-typed so the control buffer has cmsghdr's 8-byte alignment.
            long* control = stackalloc long[(controlLength + 7) / 8];
            if (!fds.IsEmpty)
            {
                var header = (Interop.CmsgHdr*)control;
                header->Len = HeaderSize + (fds.Length * sizeof(int));
                header->Level = Interop.SOL_SOCKET;
                header->Type = Interop.SCM_RIGHTS;
                var data = (int*)((byte*)control + HeaderSize);
                for (int i = 0; i < fds.Length; i++)
                {
                    AddRef(fds[i], refs);
                    data[i] = fds[i].Value;
                }
            }
            fixed (byte* p = payload)
            {
                var iov = new Interop.IoVec { Base = (nint)p, Length = payload.Length };
                var msg = new Interop.MsgHdr { Iov = (nint)(&iov), IovLen = 1, Control = (nint)control, ControlLen = controlLength };
                nint sent;
                while (Interrupted(sent = Interop.SendMsg(socket.Value, &msg, 0), "sendmsg")) { }
                // A stream socket may take part of a large payload; the fds went with the first byte.
                while (sent < payload.Length)
                {
                    nint more;
                    while (Interrupted(more = Interop.Send(socket.Value, p + sent, payload.Length - sent, 0), "send")) { }
                    sent += more;
                }
            }
        }
        finally
        {
            foreach (var handle in refs)
                handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Receives one message into <paramref name="buffer"/> and the fds attached to it (close-on-exec,
    /// owned by the caller). A length of 0 with no fds means the peer closed the connection.
    /// </summary>
    public static unsafe (int Length, SafeFd[] Fds) Receive(SafeFd socket, Span<byte> buffer, int maxFds = 8)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxFds);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxFds, MaxFds);
        bool added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            int controlLength = Space(maxFds * sizeof(int));
            long* control = stackalloc long[(controlLength + 7) / 8];
            fixed (byte* p = buffer)
            {
                var iov = new Interop.IoVec { Base = (nint)p, Length = buffer.Length };
                var msg = new Interop.MsgHdr { Iov = (nint)(&iov), IovLen = 1, Control = (nint)control, ControlLen = controlLength };
                nint n;
                while (Interrupted(n = Interop.RecvMsg(socket.Value, &msg, Interop.MSG_CMSG_CLOEXEC), "recvmsg")) { }
                var fds = Collect((byte*)control, (int)msg.ControlLen);
                if ((msg.Flags & (MSG_TRUNC | MSG_CTRUNC)) != 0)
                {
                    foreach (var fd in fds)
                        fd.Dispose();
                    throw new IOException((msg.Flags & MSG_CTRUNC) != 0
                        ? $"recvmsg: more than {maxFds} fds were sent; the kernel closed the rest"
                        : $"recvmsg: the message was longer than the {buffer.Length}-byte buffer");
                }
                return ((int)n, fds);
            }
        }
        finally
        {
            if (added) socket.DangerousRelease();
        }
    }

    /// <summary>Takes ownership of every fd in every SCM_RIGHTS header, so none leaks even on error.</summary>
    private static unsafe SafeFd[] Collect(byte* control, int length)
    {
        var fds = new List<SafeFd>();
        for (int off = 0; off + HeaderSize <= length;)
        {
            var header = (Interop.CmsgHdr*)(control + off);
            if (header->Len < HeaderSize)
                break;
            if (header->Level == Interop.SOL_SOCKET && header->Type == Interop.SCM_RIGHTS)
            {
                int count = (int)(header->Len - HeaderSize) / sizeof(int);
                var data = (int*)(control + off + HeaderSize);
                for (int i = 0; i < count; i++)
                    fds.Add(new SafeFd(data[i]));
            }
            off += Align((int)header->Len);
        }
        return fds.ToArray();
    }

    private static void AddRef(SafeHandle handle, List<SafeHandle> refs)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        if (added)
            refs.Add(handle);
    }

    /// <summary>True when the call was interrupted by a signal and should be retried; throws on a real error.</summary>
    private static bool Interrupted(nint result, string call)
    {
        if (result >= 0)
            return false;
        int errno = Marshal.GetLastPInvokeError();
        return errno == EINTR ? true : throw new LinuxException(call, errno);
    }

    /// <summary>CMSG_ALIGN: ancillary data is aligned to sizeof(size_t).</summary>
    private static int Align(int length) => (length + nint.Size - 1) & ~(nint.Size - 1);

    /// <summary>CMSG_SPACE: header plus aligned data.</summary>
    private static int Space(int dataLength) => HeaderSize + Align(dataLength);
}
