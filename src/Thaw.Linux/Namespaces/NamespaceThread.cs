using System.Collections.Concurrent;

namespace Thaw.Linux.Namespaces;

/// <summary>
/// A long-lived OS thread, started in the host's namespaces, that is the only place Thaw switches
/// namespaces. Why a dedicated thread: a thread created while another is switched into a namespace
/// inherits it for life (thread-pool workers included), and /proc/self/ns/* names the main thread's
/// namespace, not the caller's. So every switch happens here, between the switch and the restore
/// only P/Invokes run (no await, no logging, no allocation that could start a thread), and a failed
/// restore kills the process rather than let later work run in a sandbox's namespace.
/// </summary>
public sealed class NamespaceThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly SafeFd _hostNet;

    public NamespaceThread(string name = "thaw-ns")
    {
        // Opened on the constructing thread, which must itself be in the host netns: the census in
        // tests checks this, and thawd creates its namespace threads at startup.
        _hostNet = Open("/proc/thread-self/ns/net");
        _thread = new Thread(Loop) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="work"/> on the namespace thread and waits for it.</summary>
    public T Invoke<T>(Func<T> work)
    {
        if (Environment.CurrentManagedThreadId == _thread.ManagedThreadId)
            return work();
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Creates a network namespace and pins it by bind-mounting its ns file at <paramref name="bindPath"/>
    /// (which must not exist). Returns the namespace fd and a netlink socket made inside it: sockets keep
    /// the namespace they were created in, so the socket configures the namespace from any thread.
    /// </summary>
    public (SafeFd Netns, SafeFd Netlink) CreateNetworkNamespace(string bindPath) => Invoke(() =>
    {
        // Prepare everything that allocates before switching.
        using (var placeholder = new SafeFd(LinuxException.ThrowIfFailed(
            Interop.Open(bindPath, Interop.O_RDONLY | Interop.O_CREAT | Interop.O_EXCL | Interop.O_CLOEXEC, 0x124),
            "open", bindPath)))
        { }
        const string self = "/proc/thread-self/ns/net";
        int hostFd = _hostNet.Value;

        if (Interop.Unshare(Interop.CLONE_NEWNET) < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            File.Delete(bindPath);
            throw new LinuxException("unshare", errno, "CLONE_NEWNET");
        }
        int netlink = Interop.Socket(Interop.AF_NETLINK, Interop.SOCK_RAW | Interop.SOCK_CLOEXEC, Interop.NETLINK_ROUTE);
        int netlinkErrno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        int mounted = Interop.Mount(self, bindPath, null, Interop.MS_BIND, null);
        int mountErrno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (Interop.SetNs(hostFd, Interop.CLONE_NEWNET) < 0)
            Environment.FailFast("thaw: cannot return the namespace thread to the host network namespace");

        if (mounted < 0 || netlink < 0)
        {
            if (netlink >= 0) Interop.Close(netlink);
            if (mounted >= 0) Interop.Umount2(bindPath, Interop.MNT_DETACH);
            File.Delete(bindPath);
            throw mounted < 0
                ? new LinuxException("mount", mountErrno, $"bind {self} -> {bindPath}")
                : new LinuxException("socket", netlinkErrno, "AF_NETLINK in new netns");
        }
        var socket = new SafeFd(netlink);
        try
        {
            return (Open(bindPath), socket);
        }
        catch
        {
            socket.Dispose();
            Interop.Umount2(bindPath, Interop.MNT_DETACH);
            File.Delete(bindPath);
            throw;
        }
    });

    /// <summary>
    /// A netlink socket made inside the existing network namespace <paramref name="netns"/>: sockets
    /// keep the namespace they were made in, so it configures that namespace from any thread.
    /// </summary>
    public SafeFd OpenNetlinkIn(SafeFd netns) => Invoke(() =>
    {
        int hostFd = _hostNet.Value;
        int target = netns.Value;
        if (Interop.SetNs(target, Interop.CLONE_NEWNET) < 0)
            throw new LinuxException("setns", System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), "CLONE_NEWNET");
        int netlink = Interop.Socket(Interop.AF_NETLINK, Interop.SOCK_RAW | Interop.SOCK_CLOEXEC, Interop.NETLINK_ROUTE);
        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (Interop.SetNs(hostFd, Interop.CLONE_NEWNET) < 0)
            Environment.FailFast("thaw: cannot return the namespace thread to the host network namespace");
        if (netlink < 0)
            throw new LinuxException("socket", errno, "AF_NETLINK in a pooled netns");
        return new SafeFd(netlink);
    });

    /// <summary>The inode of this thread's current network namespace (for the leak census).</summary>
    public static string CurrentNetworkNamespace() =>
        new FileInfo("/proc/thread-self/ns/net").LinkTarget ?? "unknown";

    private static SafeFd Open(string path) => new(LinuxException.ThrowIfFailed(
        Interop.Open(path, Interop.O_RDONLY | Interop.O_CLOEXEC, 0), "open", path));

    private void Loop()
    {
        foreach (var item in _work.GetConsumingEnumerable())
            item();
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        if (Environment.CurrentManagedThreadId != _thread.ManagedThreadId)
            _thread.Join();
        _hostNet.Dispose();
        _work.Dispose();
    }
}
