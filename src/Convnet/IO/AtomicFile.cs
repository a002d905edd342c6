using System.Globalization;

namespace Convnet.IO;

/// <summary>
/// A file written under a temporary name next to its destination and renamed over it on
/// <see cref="Commit"/>, so that a crash leaves either the old file or the new one, never half
/// of one. Disposing without committing deletes the temporary file. Errors name the destination,
/// never the temporary name.
/// </summary>
/// <remarks>
/// The temporary file is <c>&lt;destination&gt;.tmp-&lt;8 hex digits&gt;</c> (16 in older
/// versions), held open with <see cref="FileShare.None"/> while it is written: on Unix .NET takes
/// an exclusive advisory lock (flock) for that. A run killed at the wrong moment leaves one behind;
/// <see cref="Create"/> and <see cref="CheckWritable"/> remove those of their destination, but only
/// when no process holds their lock and they are older than <see cref="StaleAge"/> (which covers
/// the instant between a writer creating the file and locking it).
/// </remarks>
public sealed class AtomicFile : IDisposable
{
    /// <summary>How old an unlocked temporary file must be before it counts as left by a dead run.</summary>
    public static readonly TimeSpan StaleAge = TimeSpan.FromSeconds(10);

    private const string TemporaryMarker = ".tmp-";

    private readonly FileStream _file;
    private readonly NamingStream _stream;
    private bool _done;

    private AtomicFile(string path, string temporaryPath, FileStream file)
    {
        Path = path;
        TemporaryPath = temporaryPath;
        _file = file;
        _stream = new NamingStream(file, path, temporaryPath);
    }

    /// <summary>The destination, as given to <see cref="Create"/>.</summary>
    public string Path { get; }
    /// <summary>The temporary file being written, <c>&lt;Path&gt;.tmp-&lt;8 hex digits&gt;</c>; renamed to <see cref="Path"/> by <see cref="Commit"/>.</summary>
    public string TemporaryPath { get; }

    /// <summary>Unbuffered: callers write large blocks. Its errors name <see cref="Path"/>.</summary>
    public Stream Stream => _stream;

    /// <summary>Starts writing <paramref name="path"/> (creating its folder), after removing its stale temporary files.</summary>
    /// <exception cref="IOException">The file cannot be created there; the message names <paramref name="path"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">The same, for lack of permission.</exception>
    public static AtomicFile Create(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string? directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        string temporaryPath = $"{path}{TemporaryMarker}{Random.Shared.Next():x8}";
        try
        {
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
            RemoveStaleTemporaries(path);
            var file = new FileStream(temporaryPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1);
            return new AtomicFile(path, temporaryPath, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Named(e, path, temporaryPath);
        }
    }

    /// <summary>
    /// Fails now if <paramref name="path"/> could not be written later: creates and deletes a
    /// temporary file next to it (which also removes its stale ones, see the remarks).
    /// </summary>
    /// <exception cref="IOException">It cannot; the message names <paramref name="path"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">The same, for lack of permission.</exception>
    public static void CheckWritable(string path)
    {
        using var probe = Create(path);
    }

    /// <summary>Writes <paramref name="bytes"/> as the whole of <paramref name="path"/>, atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        using var file = Create(path);
        file.Stream.Write(bytes);
        file.Commit();
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark, atomically.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));

    /// <summary>
    /// Deletes the temporary files of <paramref name="path"/> (our exact name pattern) that no
    /// process holds and that are older than <see cref="StaleAge"/>; returns their paths.
    /// </summary>
    public static IReadOnlyList<string> RemoveStaleTemporaries(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        string? directory = System.IO.Path.GetDirectoryName(full);
        string prefix = System.IO.Path.GetFileName(full) + TemporaryMarker;
        var removed = new List<string>();
        if (directory is null || !Directory.Exists(directory))
        {
            return removed;
        }
        foreach (var candidate in Directory.EnumerateFiles(directory))
        {
            string name = System.IO.Path.GetFileName(candidate);
            if (!name.StartsWith(prefix, StringComparison.Ordinal) || !IsOurSuffix(name.AsSpan(prefix.Length))
                || DateTime.UtcNow - File.GetLastWriteTimeUtc(candidate) < StaleAge)
            {
                continue;
            }
            try
            {
                // Fails while a writer holds the file (its FileShare.None lock). Writers never reopen
                // a temporary name, so nothing can take it between this check and the deletion.
                new FileStream(candidate, FileMode.Open, FileAccess.Read, FileShare.None).Dispose();
                File.Delete(candidate);
                removed.Add(candidate);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // In use by a live writer, or not ours to delete: leave it.
            }
        }
        return removed;
    }

    // 8 lowercase hex digits (16 in older versions): the only suffixes we ever created.
    private static bool IsOurSuffix(ReadOnlySpan<char> suffix) =>
        (suffix.Length == 8 || suffix.Length == 16) && !suffix.ContainsAnyExcept("0123456789abcdef");

    /// <summary>Renames the written file over <see cref="Path"/>.</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        try
        {
            _file.Flush(flushToDisk: true);
            _file.Dispose();
            File.Move(TemporaryPath, Path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Named(e, Path, TemporaryPath);
        }
        _done = true;
    }

    /// <summary>Without a <see cref="Commit"/> first, closes and deletes the temporary file, leaving the destination as it was; after one, does nothing. Never throws for I/O errors.</summary>
    public void Dispose()
    {
        if (_done)
        {
            return;
        }
        _done = true;
        try
        {
            _file.Dispose();
        }
        catch (IOException)
        {
            // Flushing nothing more can fail only as the write before it did, which was reported.
        }
        try
        {
            File.Delete(TemporaryPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the original exception is the one worth reporting.
        }
    }

    /// <summary>The same kind of exception, saying which of the user's files could not be written and why, without our temporary name.</summary>
    private static Exception Named(Exception e, string path, string temporaryPath)
    {
        string message = e switch
        {
            UnauthorizedAccessException => $"cannot write '{path}': permission denied",
            DirectoryNotFoundException => $"cannot write '{path}': its folder does not exist",
            _ => string.Create(CultureInfo.InvariantCulture, $"cannot write '{path}': {e.Message.Replace(temporaryPath, path, StringComparison.Ordinal).TrimEnd('.')}"),
        };
        return e is UnauthorizedAccessException ? new UnauthorizedAccessException(message, e) : new IOException(message, e);
    }

    /// <summary>Passes writes through to the temporary file; its errors name the destination.</summary>
    private sealed class NamingStream(FileStream inner, string path, string temporaryPath) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            try
            {
                inner.Write(buffer);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Named(e, path, temporaryPath);
            }
        }

        public override void Flush()
        {
            try
            {
                inner.Flush();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Named(e, path, temporaryPath);
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
