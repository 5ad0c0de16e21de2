namespace Thaw.Service.Deploy;

/// <summary>
/// The request body copied to a file thawd can read twice (a scan, then the extraction) and seek
/// in (a zip's directory is at its end), cut off as soon as it passes the limit.
/// </summary>
internal static class ArchiveBuffer
{
    private const int ChunkBytes = 81920;

    /// <summary>Asynchronous because a request body must be: Kestrel refuses synchronous reads.</summary>
    public static async Task<FileStream> ReadAsync(Stream body, FunctionArchiveOptions options, CancellationToken cancellationToken)
    {
        RefuseDeclaredLength(body, options);
        var file = Create(options);
        try
        {
            var chunk = new byte[ChunkBytes];
            long total = 0;
            int n;
            while ((n = await body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += n;
                if (total > options.MaxArchiveBytes)
                    throw TooLarge(options);
                await file.WriteAsync(chunk.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }
            file.Position = 0;
            return file;
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static void RefuseDeclaredLength(Stream body, FunctionArchiveOptions options)
    {
        if (body.CanSeek && body.Length - body.Position > options.MaxArchiveBytes)
            throw TooLarge(options);
    }

    private static FileStream Create(FunctionArchiveOptions options)
    {
        string path = Path.Combine(options.BufferDirectory, $"thaw-deploy-{Guid.NewGuid():N}.upload");
        var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        // Unlinked while open: the data lives as long as the handle, and a crash of thawd leaves nothing behind.
        File.Delete(path);
        return file;
    }

    private static ArchiveException TooLarge(FunctionArchiveOptions options) =>
        ArchiveException.Limit($"the archive is larger than {ArchiveException.Size(options.MaxArchiveBytes)}");
}
