namespace Thaw.Resources;

/// <summary>
/// Exclusive locks (flock, via FileShare.None) held while an instance's pools live: one on its name,
/// because cgroups, links and rule tags are named after it host-wide, and one on its state dir,
/// because pinned namespaces and roots live there. The kernel drops both when the holder dies, so a
/// crash never leaves an instance locked.
/// </summary>
public sealed class InstanceLock : IDisposable
{
    /// <summary>Where name locks live: a tmpfs, empty after a reboot like the kernel objects they guard.</summary>
    public const string NamesDir = "/run/thaw";

    public const string FileName = "instance.lock";

    private readonly FileStream[] _files;

    private InstanceLock(FileStream[] files) => _files = files;

    /// <summary>Takes both locks or throws <see cref="InstanceLockedException"/> naming the holder.</summary>
    public static InstanceLock Acquire(ThawNaming naming)
    {
        Directory.CreateDirectory(NamesDir);
        var name = Take(Path.Combine(NamesDir, naming.Name + ".lock"), naming, $"instance name '{naming.Name}'", "use another --name");
        try
        {
            return new InstanceLock([name, Take(Path.Combine(naming.StateDir, FileName), naming, $"state dir {naming.StateDir}", "use another --state-dir")]);
        }
        catch
        {
            name.Dispose();
            throw;
        }
    }

    private static FileStream Take(string path, ThawNaming naming, string what, string advice)
    {
        try
        {
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            file.SetLength(0);
            using (var writer = new StreamWriter(file, leaveOpen: true))
                writer.Write($"{Environment.ProcessId} {naming.Name} {naming.StateDir}\n");
            file.Flush();
            return file;
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            string holder = "";
            try
            {
                // A stream over a plain fd takes no flock of its own, which the holder's would refuse.
                using var fd = Thaw.Linux.Files.FileDescriptors.OpenRead(path);
                using var reader = new StreamReader(new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd.DangerousGetHandle(), ownsHandle: false), FileAccess.Read));
                holder = reader.ReadToEnd().Trim();
            }
            catch (Exception read) when (read is IOException or Thaw.Linux.LinuxException) { }
            throw new InstanceLockedException(
                $"{what} is in use by another Thaw instance{(holder.Length > 0 ? $" (pid, name, state dir: {holder})" : "")}; stop it or {advice}");
        }
    }

    public void Dispose()
    {
        // The name's file goes (unlinked while still locked, so no one else holds it meanwhile);
        // the state dir's stays with the dir.
        TryDelete(_files[0].Name);
        foreach (var file in _files)
            file.Dispose();
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Another live instance holds the name or the state dir.</summary>
public sealed class InstanceLockedException(string message) : InvalidOperationException(message);
