using Thaw.Linux.Files;

namespace Thaw.Resources.Roots;

/// <summary>
/// What every root of a pool contains, worked out once from the options so that crafting a root
/// only replays it: which base dirs are symlinks and which are bound, and the host's device numbers.
/// </summary>
internal sealed class RootLayout
{
    /// <summary>Host device nodes reproduced in /dev; what programs (and Python's os.urandom) open unasked.</summary>
    internal static readonly string[] Devices = ["null", "zero", "random", "urandom"];

    /// <summary>/dev/fd and the standard streams, as every Linux /dev has them (bash, Python subprocess use them).</summary>
    internal static readonly (string Name, string Target)[] DevLinks =
        [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")];

    private RootLayout(List<(string, string)> symlinks, List<(string, string)> binds, List<(string, uint, uint)> devices)
    {
        Symlinks = symlinks;
        BindSources = binds;
        DeviceNumbers = devices;
    }

    /// <summary>Base dirs that are symlinks in the base root, with their link text (kept relative if it was).</summary>
    public IReadOnlyList<(string Name, string Target)> Symlinks { get; }

    /// <summary>Top-level dirs bind-mounted read-only: the base dirs that are real directories, and the sandbox's /etc.</summary>
    public IReadOnlyList<(string Name, string Source)> BindSources { get; }

    public IEnumerable<string> Binds => BindSources.Select(b => b.Name);

    public IReadOnlyList<(string Name, uint Major, uint Minor)> DeviceNumbers { get; }

    /// <summary>Reads the base root once; builds the sandboxes' /etc in <paramref name="etcDir"/> when <see cref="RootPoolOptions.Etc"/> lists one.</summary>
    public static RootLayout From(RootPoolOptions options, string etcDir)
    {
        var symlinks = new List<(string, string)>();
        var binds = new List<(string, string)>();
        foreach (var name in options.BaseDirs)
        {
            var source = new DirectoryInfo(Path.Combine(options.BaseRoot, name));
            if (source.LinkTarget is { } target)
                symlinks.Add((name, target));
            else if (source.Exists)
                binds.Add((name, source.FullName));
        }
        if (options.Etc is { } etc)
        {
            SandboxEtc.Build(options.BaseRoot, etc, etcDir);
            binds.Add(("etc", etcDir));
        }
        var devices = Devices.Select(d =>
        {
            var (major, minor) = DeviceNode.CharDeviceNumber("/dev/" + d);
            return (d, major, minor);
        }).ToList();
        return new RootLayout(symlinks, binds, devices);
    }
}
