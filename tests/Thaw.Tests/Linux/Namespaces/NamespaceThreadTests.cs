using Thaw.Linux;
using Thaw.Linux.Namespaces;
using Thaw.Linux.Netlink;
using Thaw.Tests.Support;

namespace Thaw.Tests.Linux.Namespaces;

public sealed class NamespaceThreadTests : IDisposable
{
    private readonly TestInstance _instance = new();
    private readonly string _dir;

    public NamespaceThreadTests()
    {
        _dir = Path.Combine(_instance.Naming.StateDir, "ns");
        PinDirectory.Prepare(_dir);
    }

    [Fact]
    public void Created_namespace_is_pinned_new_and_has_loopback_only()
    {
        using var thread = new NamespaceThread();
        string path = Path.Combine(_dir, "a");
        var (fd, netlink) = thread.CreateNetworkNamespace(path);
        using (fd)
        using (var inside = new NetlinkSocket(netlink))
        {
            string host = new FileInfo("/proc/self/ns/net").LinkTarget!;
            var (code, inode) = LeakCensus.Run("stat", "-L", "-c", "%i", path);
            Assert.Equal(0, code);
            Assert.NotEqual(host, $"net:[{inode.Trim()}]");
            var (hcode, hostInode) = LeakCensus.Run("stat", "-L", "-c", "%i", "/proc/self/ns/net");
            Assert.Equal(0, hcode);
            Assert.Equal(host, $"net:[{hostInode.Trim()}]"); // the comparison above is meaningful

            var links = inside.ListLinks();
            Assert.Equal("lo", Assert.Single(links).Name);
            Assert.False(links[0].Up);
            inside.SetLinkUp(1);
            Assert.True(inside.ListLinks()[0].Up);

            // A process entering the pinned file sees the same namespace: lo up, nothing else.
            var (ncode, nout) = LeakCensus.Run("nsenter", $"--net={path}", "cat", "/proc/net/dev");
            Assert.Equal(0, ncode);
            Assert.Contains("lo:", nout, StringComparison.Ordinal);
            Assert.DoesNotContain("eth0", nout, StringComparison.Ordinal);
        }
        PinDirectory.Unpin(path);
        Assert.False(File.Exists(path));
        Assert.Empty(LeakCensus.ThreadsOutsideHostNetns());
    }

    [Fact]
    public void Many_creations_from_many_threads_leave_every_thread_in_the_host_namespace()
    {
        using var thread = new NamespaceThread();
        var paths = Enumerable.Range(0, 40).Select(i => Path.Combine(_dir, "p" + i)).ToArray();
        Parallel.ForEach(paths, p =>
        {
            var (fd, nl) = thread.CreateNetworkNamespace(p);
            fd.Dispose();
            nl.Dispose();
        });
        // Threads started after the burst must also be in the host namespace.
        Parallel.For(0, 64, _ => Thread.Sleep(1));
        Assert.Empty(LeakCensus.ThreadsOutsideHostNetns());
        foreach (var p in paths)
            PinDirectory.Unpin(p);
    }

    [Fact]
    public void Pinning_onto_an_existing_file_fails_with_the_call_named_and_leaves_the_file()
    {
        using var thread = new NamespaceThread();
        string path = Path.Combine(_dir, "taken");
        File.WriteAllText(path, "");
        var e = Assert.Throws<LinuxException>(() => thread.CreateNetworkNamespace(path));
        Assert.Equal("open", e.Call);
        Assert.Contains("EEXIST", e.Message, StringComparison.Ordinal);
        File.Delete(path);
        Assert.Empty(LeakCensus.ThreadsOutsideHostNetns());
    }

    public void Dispose()
    {
        PinDirectory.Remove(_dir);
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
        _instance.Dispose();
    }
}
