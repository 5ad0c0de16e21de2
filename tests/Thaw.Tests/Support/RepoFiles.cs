namespace Thaw.Tests.Support;

/// <summary>Files of the repository the tests were built from (docs the tests hold to the code).</summary>
internal static class RepoFiles
{
    /// <summary>The path of <paramref name="relative"/> (e.g. docs/api.md) in the first directory above the test binaries that has it.</summary>
    public static string Find(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative)))
                return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
