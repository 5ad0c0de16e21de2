using System.Diagnostics;
using Thaw.Linux.Files;
using Thaw.Linux.Mounts;
using Thaw.Resources.Roots;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources.Roots;

public sealed class RootPoolTests(RootPoolFixture fixture) : IClassFixture<RootPoolFixture>
{
    private const int EROFS = 30;
    private const int ENOSPC = 28;

    private SandboxRoot Claim() => fixture.Pool.Claim(fixture.CodeDir);

    [Fact]
    public void Root_holds_the_base_os_read_only_and_the_sandbox_mount_points()
    {
        var root = Claim();
        try
        {
            Assert.True(File.Exists(Path.Combine(root.Path, "usr/bin/sh")));
            // Its own /etc: the listed entries of the host's and a passwd naming the sandbox user, nothing else.
            Assert.Contains("nobody:x:65534:65534:", File.ReadAllText(Path.Combine(root.Path, "etc/passwd")), StringComparison.Ordinal);
            Assert.Equal(File.ReadAllBytes("/etc/ld.so.cache"), File.ReadAllBytes(Path.Combine(root.Path, "etc/ld.so.cache")));
            var etc = Directory.EnumerateFileSystemEntries(Path.Combine(root.Path, "etc")).Select(Path.GetFileName).ToHashSet();
            Assert.Empty(etc.Except(Thaw.Resources.Roots.SandboxEtc.Default.Select(e => e.Split('/')[0]).Append("passwd").Append("group")));
            Assert.DoesNotContain("shadow", etc);
            Assert.False(Path.Exists(Path.Combine(root.Path, "etc/ssl/private")));
            foreach (var name in new[] { "bin", "sbin", "lib", "lib64" })
            {
                // Merged /usr: the host's link is recreated as the same link, not mounted.
                var hostLink = new DirectoryInfo("/" + name).LinkTarget;
                Assert.Equal(hostLink, new DirectoryInfo(Path.Combine(root.Path, name)).LinkTarget);
            }
            Assert.True(File.Exists(Path.Combine(root.Path, "bin/sh")));
            Assert.False(Path.Exists(Path.Combine(root.Path, "libx32")) && !Path.Exists("/libx32"));
            foreach (var dir in new[] { root.TmpDir, root.HostDir, root.DevDir, root.ProcDir, root.HandlerDir, root.PackagesDir })
                Assert.True(Directory.Exists(dir), dir);
            Assert.Empty(Directory.EnumerateFileSystemEntries(root.ProcDir));
            Assert.Empty(Directory.EnumerateFileSystemEntries(root.PackagesDir));
        }
        finally { fixture.ReleaseAndSettle(root); }
    }

    [Theory]
    [InlineData("usr/thaw-probe")]
    [InlineData("etc/thaw-probe")]
    [InlineData("thaw-probe")]
    [InlineData("dev/thaw-probe")]
    public void Writing_outside_the_scratch_dirs_fails_with_EROFS(string relative)
    {
        var root = Claim();
        try
        {
            var e = Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(root.Path, relative), "x"));
            Assert.Equal(EROFS, TestInstance.Errno(e));
            Assert.Throws<IOException>(() => Directory.CreateDirectory(Path.Combine(root.Path, relative + "-dir")));
        }
        finally { fixture.ReleaseAndSettle(root); }
    }

    [Fact]
    public void Scratch_dirs_are_writable_up_to_their_size_limit()
    {
        var root = Claim();
        try
        {
            File.WriteAllBytes(Path.Combine(root.TmpDir, "half"), new byte[RootPoolFixture.ScratchBytes / 2]);
            File.WriteAllText(Path.Combine(root.HostDir, "sock-placeholder"), "ok");

            var e = Assert.ThrowsAny<IOException>(() => File.WriteAllBytes(Path.Combine(root.TmpDir, "too-much"), new byte[RootPoolFixture.ScratchBytes]));
            Assert.Equal(ENOSPC, TestInstance.Errno(e));
            var tmp = MountTable.Read().MountsUnder(root.TmpDir).Single();
            Assert.Equal("tmpfs", tmp.FsType);
            Assert.Contains("nosuid", tmp.MountOptions.Split(','));
            Assert.Contains("nodev", tmp.MountOptions.Split(','));
        }
        finally { fixture.ReleaseAndSettle(root); }
    }

    [Fact]
    public void Dev_has_working_char_devices_with_the_hosts_numbers()
    {
        var root = Claim();
        try
        {
            foreach (var name in new[] { "null", "zero", "random", "urandom" })
            {
                var path = Path.Combine(root.DevDir, name);
                Assert.True(DeviceNode.IsCharDevice(path), path);
                Assert.Equal(DeviceNode.CharDeviceNumber("/dev/" + name), DeviceNode.CharDeviceNumber(path));
                Assert.Equal((UnixFileMode)0b110_110_110, File.GetUnixFileMode(path));
            }
            File.WriteAllText(Path.Combine(root.DevDir, "null"), "discarded");
            using var zero = File.OpenRead(Path.Combine(root.DevDir, "zero"));
            var buffer = new byte[16];
            Array.Fill(buffer, (byte)7);
            zero.ReadExactly(buffer);
            Assert.All(buffer, b => Assert.Equal(0, b));
            Assert.False(DeviceNode.IsCharDevice(Path.Combine(root.Path, "etc/passwd")));
        }
        finally { fixture.ReleaseAndSettle(root); }
    }

    [Fact]
    public void Handler_is_the_code_dir_bound_read_only()
    {
        var root = Claim();
        try
        {
            Assert.Equal(fixture.CodeDir, root.CodeDir);
            Assert.StartsWith("def handler", File.ReadAllText(Path.Combine(root.HandlerDir, "handler.py")), StringComparison.Ordinal);
            var e = Assert.ThrowsAny<IOException>(() => File.WriteAllText(Path.Combine(root.HandlerDir, "handler.py"), "evil"));
            Assert.Equal(EROFS, TestInstance.Errno(e));
            Assert.True(MountTable.Read().MountsUnder(root.HandlerDir).Single().IsReadOnly);
        }
        finally { fixture.ReleaseAndSettle(root); }
    }

    [Fact]
    public void Packages_dir_is_bound_read_only_when_given()
    {
        var packages = TestInstance.NewTempDir("thaw-pkgs-");
        File.WriteAllText(Path.Combine(packages, "six.py"), "");
        var root = fixture.Pool.Claim(fixture.CodeDir, packages);
        try
        {
            Assert.True(File.Exists(Path.Combine(root.PackagesDir, "six.py")));
            Assert.True(MountTable.Read().MountsUnder(root.PackagesDir).Single().IsReadOnly);
        }
        finally
        {
            fixture.ReleaseAndSettle(root);
            Directory.Delete(packages, recursive: true);
        }
    }

    [Fact]
    public void After_release_no_root_of_the_pool_holds_the_last_sandboxs_files()
    {
        fixture.WaitUntilFull();
        var used = Claim();
        File.WriteAllText(Path.Combine(used.TmpDir, "secret"), "from the last sandbox");
        File.WriteAllText(Path.Combine(used.HostDir, "secret"), "from the last sandbox");

        fixture.ReleaseAndSettle(used);

        // Every idle root (the recycled one among them: the pool keeps up to twice its target).
        int idle = fixture.Pool.Stats().Level;
        var claimed = Enumerable.Range(0, idle).Select(_ => Claim()).ToList();
        try
        {
            Assert.Contains(used, claimed);
            foreach (var root in claimed)
            {
                Assert.False(File.Exists(Path.Combine(root.TmpDir, "secret")));
                Assert.False(File.Exists(Path.Combine(root.HostDir, "secret")));
                Assert.Single(MountTable.Read().MountsUnder(root.HandlerDir)); // bound once, not stacked
            }
            // Recycled (same path, scrubbed) or destroyed (path gone): never kept dirty.
            Assert.True(claimed.Any(r => r.Path == used.Path) || !Path.Exists(used.Path));
        }
        finally
        {
            fixture.ReleaseAndSettle([.. claimed]);
        }
    }

    [Fact]
    public void A_missing_code_dir_is_a_clear_error_and_the_root_goes_back()
    {
        fixture.WaitUntilFull();
        var missing = Path.Combine(fixture.Naming.StateDir, "no-such-function");
        long handled = fixture.Handled();

        var e = Assert.Throws<DirectoryNotFoundException>(() => fixture.Pool.Claim(missing));

        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, fixture.Pool.Stats().InUse);
        fixture.WaitUntilHandledAfter(handled); // asserts the pool is full and nothing is lent out
    }

    [Fact]
    public void Chroot_into_a_root_runs_the_shell_with_writable_tmp_and_read_only_usr()
    {
        var root = Claim();
        try
        {
            var (code, output) = Run("/usr/sbin/chroot", root.Path, "/bin/sh", "-c", "echo hi > /tmp/x && cat /tmp/x && ls /handler && cat /dev/null");
            Assert.Equal(0, code);
            Assert.Equal("hi\nhandler.py\n", output);

            var (denied, error) = Run("/usr/sbin/chroot", root.Path, "/bin/sh", "-c", "touch /usr/x || exit 3");
            Assert.Equal(3, denied);
            Assert.Contains("Read-only file system", error, StringComparison.Ordinal);
        }
        finally { fixture.ReleaseAndSettle(root); }
    }

    private static (int Code, string Output) Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(10_000));
        return (process.ExitCode, process.ExitCode == 0 ? stdout : stderr.Result);
    }
}
