using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Thaw.Linux.Processes;

/// <summary>
/// Waits for this process's own children through their pidfds, on one thread: an epoll set of the
/// pidfds, <c>waitid(P_PIDFD)</c> for each that becomes readable, the exit handed to the callback
/// given with the child. .NET reaps only the children it started with <c>Process</c> (by pid), so
/// these stay zombies, their pids not reusable, until reaped here; a pidfd also makes a signal to
/// them race-free. Disposing kills every child still watched and reaps it.
/// </summary>
public sealed class ChildReaper : IDisposable
{
    private const int SigKill = 9;
    private readonly SafeFd _epoll;
    private readonly SafeFd _wake;
    private readonly Thread _thread;
    private readonly ConcurrentDictionary<int, (SafeFd Pidfd, Action<int?, int?> Exited)> _children = new();
    private readonly Action<Exception>? _failed;
    private volatile bool _disposed;

    /// <param name="name">The reaper thread's name.</param>
    /// <param name="failed">Hears what a child's exit callback threw (the thread goes on reaping).</param>
    public ChildReaper(string name, Action<Exception>? failed = null)
    {
        _failed = failed;
        _epoll = new SafeFd(LinuxException.ThrowIfFailed(Interop.EpollCreate1(Interop.EPOLL_CLOEXEC), "epoll_create1"));
        _wake = new SafeFd(LinuxException.ThrowIfFailed(Interop.EventFd(0, Interop.O_CLOEXEC), "eventfd"));
        Add(_wake.Value);
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>
    /// Watches a child of this process; takes the pidfd over. <paramref name="exited"/> gets its exit
    /// code (or null) and the signal that killed it (or null), on the reaper's thread.
    /// </summary>
    public void Watch(SafeFd pidfd, Action<int?, int?> exited)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _children[pidfd.Value] = (pidfd, exited);
        Add(pidfd.Value);
    }

    /// <summary>Signals a watched child through its pidfd; false if it was already reaped.</summary>
    public bool Signal(SafeFd pidfd, int signal)
    {
        // A reference held while sending: the reaper may close the pidfd meanwhile, and its number
        // must not be reused (by another child's pidfd) until the signal went out.
        bool added = false;
        try
        {
            pidfd.DangerousAddRef(ref added);
            return Interop.PidfdSendSignal(Interop.SYS_pidfd_send_signal, pidfd.Value, signal, 0, 0) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
                pidfd.DangerousRelease();
        }
    }

    private unsafe void Add(int fd)
    {
        var ev = new Interop.EpollEvent { Events = Interop.EPOLLIN, Data = (ulong)fd };
        LinuxException.ThrowIfFailed(Interop.EpollCtl(_epoll.Value, Interop.EPOLL_CTL_ADD, fd, &ev), "epoll_ctl", "add");
    }

    private unsafe void Loop()
    {
        var events = stackalloc Interop.EpollEvent[32];
        while (!_disposed)
        {
            int n = Interop.EpollWait(_epoll.Value, events, 32, -1);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 4) // EINTR
                    continue;
                // Said, not silent: no child of this reaper would be reaped any more.
                _failed?.Invoke(new LinuxException("epoll_wait", errno, "the reaper stops"));
                return;
            }
            for (int i = 0; i < n; i++)
            {
                int fd = (int)events[i].Data;
                if (fd == _wake.Value)
                    continue;
                // An exception off this thread would end the process; one child's callback must not
                // stop the reaping of the others either.
                try { Reap(fd); }
                catch (Exception e) { _failed?.Invoke(e); }
            }
        }
    }

    private unsafe void Reap(int fd)
    {
        var info = default(Interop.ChildInfo);
        if (Interop.WaitId(Interop.P_PIDFD, fd, &info, Interop.WEXITED | Interop.WNOHANG) != 0 || info.Pid == 0)
            return; // not exited yet (a spurious wake-up)
        Interop.EpollCtl(_epoll.Value, Interop.EPOLL_CTL_DEL, fd, null);
        if (!_children.TryRemove(fd, out var child))
            return;
        child.Pidfd.Dispose();
        if (info.Code == Interop.CLD_EXITED)
            child.Exited(info.Status, null);
        else
            child.Exited(null, info.Status);
    }

    /// <summary>Kills every child still watched, reaps them and stops the thread.</summary>
    public unsafe void Dispose()
    {
        if (_disposed)
            return;
        foreach (var (_, child) in _children)
            Signal(child.Pidfd, SigKill);
        var deadline = Environment.TickCount64 + 5000;
        while (!_children.IsEmpty && Environment.TickCount64 < deadline)
            Thread.Sleep(2);
        _disposed = true;
        long one = 1;
        Interop.Write(_wake.Value, (byte*)&one, sizeof(long));
        _thread.Join(TimeSpan.FromSeconds(5));
        foreach (var (_, child) in _children)
            child.Pidfd.Dispose();
        _epoll.Dispose();
        _wake.Dispose();
    }
}
