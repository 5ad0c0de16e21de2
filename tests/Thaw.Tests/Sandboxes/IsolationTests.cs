using Thaw.Sandboxes;

namespace Thaw.Tests.Sandboxes;

/// <summary>
/// What a sandbox can see and do: only itself, its own network, its own root, no privileges. Each
/// for both exec paths: cloned by thawd (started at once), and by the zygote (created, then started).
/// </summary>
public sealed class IsolationTests(SandboxFixture fixture) : IClassFixture<SandboxFixture>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Sees_only_its_own_processes_and_is_pid_1(bool viaZygote)
    {
        string output = await fixture.ShellAsync(viaZygote: viaZygote, script: "echo $$; ls /proc | grep -c '^[0-9]'; ps -e 2>/dev/null | wc -l");
        var lines = output.Split('\n');
        Assert.Equal("1", lines[0]);
        // The shell, ls and grep: never the host's dozens of processes.
        Assert.InRange(int.Parse(lines[1], System.Globalization.CultureInfo.InvariantCulture), 1, 4);
        Assert.True(Directory.GetDirectories("/proc").Count(d => int.TryParse(Path.GetFileName(d), out _)) > 10, "the host has more processes than the sandbox sees");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Its_mount_namespace_holds_its_root_and_proc_only(bool viaZygote)
    {
        // Attached as a detached tree into a copy of the zygote's namespace: none of thawd's mounts
        // (every pooled root and namespace pin) are copied into it.
        string output = await fixture.ShellAsync(viaZygote: viaZygote, script: "cut -d' ' -f5 /proc/self/mountinfo");
        var mounts = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("/", mounts);
        Assert.Contains("/proc", mounts);
        Assert.Contains("/usr", mounts);
        Assert.InRange(mounts.Length, 4, 10);
        Assert.True(File.ReadAllLines("/proc/self/mountinfo").Length > mounts.Length + 10, "thawd's namespace has the pools' mounts");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Sees_no_host_network(bool viaZygote)
    {
        string output = await fixture.ShellAsync(viaZygote: viaZygote, script: "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '");
        Assert.Equal(["lo"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // The host's interfaces are there, just not in the sandbox.
        Assert.True(File.ReadAllLines("/proc/net/dev").Length > 3);
    }

    [Fact]
    public async Task Bridge_sandbox_has_an_address_and_a_route_to_its_gateway()
    {
        var (exit, stdout, stderr) = await fixture.RunAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; cat /proc/net/route | tail -n +2 | cut -f1,2"], Network = SandboxNetwork.Bridge });
        Assert.True(exit.ExitCode == 0, stderr);
        Assert.Contains("eth0", stdout, StringComparison.Ordinal);
        Assert.Contains("eth0\t00000000", stdout, StringComparison.Ordinal); // the default route
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Sees_no_host_files_outside_its_root_and_cannot_write_the_base(bool viaZygote)
    {
        string marker = Path.Combine("/tmp", "thaw-test-marker-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllTextAsync(marker, "host secret");
        try
        {
            string output = await fixture.ShellAsync(viaZygote: viaZygote, script: 
                $"test -e {marker} && echo seen-marker; test -e /root && echo seen-root; test -e /var && echo seen-var; test -e {fixture.Naming.StateDir} && echo seen-state;"
                + " touch /usr/thaw-test 2>/dev/null && echo wrote-usr; touch /thaw-test 2>/dev/null && echo wrote-root; touch /tmp/ok && echo wrote-tmp; ls /");
            Assert.DoesNotContain("seen-", output, StringComparison.Ordinal);
            Assert.DoesNotContain("wrote-usr", output, StringComparison.Ordinal);
            Assert.DoesNotContain("wrote-root", output, StringComparison.Ordinal);
            Assert.Contains("wrote-tmp", output, StringComparison.Ordinal);
            Assert.False(File.Exists("/usr/thaw-test"));
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task Sees_a_minimal_etc_that_still_serves_names_libraries_and_certificates()
    {
        // numpy's BLAS comes through /etc/alternatives and the loader's cache; ssl's CA bundle through /etc/ssl/certs.
        const string script = """
            import os, pwd, ssl, numpy
            numpy.dot(numpy.ones((8, 8)), numpy.ones((8, 8)))
            print(pwd.getpwuid(os.getuid()).pw_name)
            print(os.path.exists(ssl.get_default_verify_paths().openssl_cafile))
            print(sorted(os.listdir("/etc")))
            """;
        var (exit, stdout, stderr) = await fixture.RunAsync(new SandboxSpec { Argv = ["/usr/bin/python3", "-c", script] });
        Assert.True(exit.ExitCode == 0, stderr);
        var lines = stdout.Split('\n');
        Assert.Equal("nobody", lines[0]);
        Assert.Equal("True", lines[1]);
        foreach (var secret in new[] { "pip.conf", "shadow", "ssh", "gshadow", "sudoers" })
            Assert.DoesNotContain($"'{secret}'", lines[2], StringComparison.Ordinal);
        Assert.True(Directory.GetFileSystemEntries("/etc").Length > 50, "the host's /etc has far more");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Runs_as_nobody_without_capabilities_or_new_privileges(bool viaZygote)
    {
        string output = await fixture.ShellAsync(viaZygote: viaZygote, script: "id -u; id -g; id -G; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["65534", "65534", "65534"], lines[..3]);
        foreach (var cap in new[] { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" })
            Assert.Contains($"{cap}:\t0000000000000000", lines);
        Assert.Contains("NoNewPrivs:\t1", lines);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Starts_with_default_signal_dispositions_not_the_zygotes(bool viaZygote)
    {
        // Python ignores SIGPIPE and SIGXFSZ and catches SIGINT and SIGCHLD: none of it may reach the
        // program (grep exec'd by the shell sees what the sandbox's pid 1 was given).
        string output = await fixture.ShellAsync(viaZygote: viaZygote, script: "exec grep -E '^(SigIgn|SigBlk)' /proc/self/status");
        Assert.Contains("SigIgn:\t0000000000000000", output);
        Assert.Contains("SigBlk:\t0000000000000000", output);
    }

    [Fact]
    public async Task Has_its_own_hostname()
    {
        string hostBefore = File.ReadAllText("/proc/sys/kernel/hostname");
        var (exit, stdout, _) = await fixture.RunAsync(new SandboxSpec { Argv = ["/bin/sh", "-c", "hostname; hostname other 2>/dev/null; hostname"], Hostname = "thaw-iso" });
        Assert.Equal(0, exit.ExitCode);
        Assert.Equal("thaw-iso\nthaw-iso\n", stdout);
        Assert.Equal(hostBefore, File.ReadAllText("/proc/sys/kernel/hostname"));
    }

    [Fact]
    public async Task Code_dir_is_bound_read_only_at_handler_and_is_the_working_directory()
    {
        string code = Support.TestInstance.NewTempDir("thaw-test-code-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(code, "main.sh"), "echo from-code; pwd; touch /handler/x 2>/dev/null && echo wrote || echo read-only\n");
            var (exit, stdout, stderr) = await fixture.RunAsync(new SandboxSpec { Argv = ["/bin/sh", "main.sh"], CodeDir = code });
            Assert.True(exit.ExitCode == 0, stderr);
            Assert.Equal("from-code\n/handler\nread-only\n", stdout);
        }
        finally
        {
            Directory.Delete(code, recursive: true);
        }
    }
}
