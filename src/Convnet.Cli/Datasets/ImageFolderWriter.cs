using System.Globalization;
using Convnet.Data;
using Convnet.Images;

namespace Convnet.Cli.Datasets;

/// <summary>
/// Writes a labelled dataset as an image folder tree, one subfolder per class, one PNG per sample:
/// <c>DIR/&lt;class&gt;/&lt;number&gt;.png</c>, where the class is its name (or its number when the
/// dataset has none) and the number is the sample's place in the dataset from 1, zero-padded to
/// at least five digits, so that within a class the ordinal order of the names is the dataset's order.
/// </summary>
internal static class ImageFolderWriter
{
    private const int MinDigits = 5;

    /// <summary>
    /// Writes <paramref name="data"/> into the new folder <paramref name="directory"/>: first into
    /// <c>directory.tmp-&lt;8 hex digits&gt;</c>, renamed when every file is written and removed
    /// on an error or cancellation, so that nothing half-written is left under the final name.
    /// </summary>
    /// <exception cref="IOException"><paramref name="directory"/> exists already, or a file cannot be written.</exception>
    public static void Write(Dataset data, string directory, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (data.Labels is not { } labels)
        {
            throw new ArgumentException("An image folder tree needs labels.", nameof(data));
        }
        var shape = data.SampleShape;
        if (!shape.IsImage || shape.Channels is not (1 or 3))
        {
            throw new ArgumentException($"Images of 1 or 3 channels, not {data.SampleShape}.", nameof(data));
        }
        string[] classFolders = [.. Enumerable.Range(0, data.ClassCount()).Select(data.ClassName)];
        foreach (string name in classFolders)
        {
            CheckFolderName(name);
        }
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        if (Directory.Exists(full) || File.Exists(full))
        {
            throw new IOException($"'{directory}' exists already");
        }
        string temporary = $"{full}.tmp-{Random.Shared.Next():x8}";
        try
        {
            Directory.CreateDirectory(temporary);
            foreach (int label in labels.Distinct())
            {
                Directory.CreateDirectory(Path.Combine(temporary, classFolders[label]));
            }
            int digits = Math.Max(MinDigits, data.Count.ToString(CultureInfo.InvariantCulture).Length);
            var options = new ParallelOptions { CancellationToken = cancellation };
            // Each sample to its own file: the bytes do not depend on the thread count.
            Parallel.For(0, data.Count, options, i =>
            {
                string name = (i + 1).ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0') + ".png";
                File.WriteAllBytes(Path.Combine(temporary, classFolders[labels[i]], name), ImageDecoder.EncodePng(data.Image(i), shape.Height, shape.Width, shape.Channels));
            });
            Directory.Move(temporary, full);
        }
        catch
        {
            try
            {
                Directory.Delete(temporary, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The error being reported matters more; the temporary name says what it is.
            }
            throw;
        }
    }

    /// <summary>A class name must be usable as one folder name on every system.</summary>
    private static void CheckFolderName(string name)
    {
        if (name is "." or ".." || name.IndexOfAny(['/', '\\', '\0']) >= 0 || name.Trim() != name)
        {
            throw new ArgumentException($"Class name '{name}' cannot be a folder name.", nameof(name));
        }
    }
}
