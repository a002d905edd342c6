using System.Diagnostics;
using System.Globalization;
using Convnet.Data;
using Convnet.Models;
using Convnet.Tensors;

namespace Convnet.Images;

/// <summary>
/// Folders of images as datasets, with Keras's image_dataset_from_directory conventions: one
/// subfolder per class, class names the subfolder names sorted ordinally, the images of a class
/// found recursively (nested folders belong to their class folder, symbolic links are followed,
/// a link back to a folder above is not followed again), files sorted ordinally within their
/// class, samples in class order then file order (Keras's order with shuffle=False). Image files
/// are those ending in .png, .jpg, .jpeg, .bmp, .gif or .webp (any case); other files are listed
/// in <see cref="ImageFolderData.Ignored"/>. Decoding runs in parallel, each image into its own
/// slot, so the result does not depend on the thread count.
/// </summary>
public static class ImageFolder
{
    /// <summary>The extensions read as images (compared ignoring case).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    /// <summary>Whether <paramref name="path"/> ends in one of <see cref="Extensions"/>.</summary>
    public static bool IsImageFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string extension = Path.GetExtension(path);
        return Extensions.Any(e => e.Equals(extension, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Reads a labelled image folder: <paramref name="directory"/> holds one subfolder per class.
    /// </summary>
    /// <exception cref="DataFormatException">
    /// The folder is missing; it has fewer than 2 class folders (without
    /// <see cref="ImageFolderOptions.ClassNames"/>) or more than <see cref="Dataset.MaxClasses"/>;
    /// a class folder holds no images, or is not among the given class names; the images differ in
    /// size and no size was given; a file cannot be decoded (unless skipped); the images would take
    /// more than <see cref="MemoryBudget.Limit"/>. The message names the file or folder.
    /// </exception>
    public static ImageFolderData Load(string directory, ImageFolderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        options ??= new ImageFolderOptions();
        Check(options);
        var clock = Stopwatch.StartNew();
        CheckDirectory(directory);
        var ignored = new List<string>();
        var classFolders = new List<string>();
        foreach (string entry in Entries(directory))
        {
            string name = Path.GetFileName(entry);
            if (!Directory.Exists(entry))
            {
                ignored.Add(name);
            }
            else if (name.StartsWith('.'))
            {
                ignored.Add(name + "/");
            }
            else
            {
                classFolders.Add(name);
            }
        }
        classFolders.Sort(StringComparer.Ordinal);
        var (names, folderLabels) = Classes(directory, classFolders, options.ClassNames);

        var files = new List<string>();
        var labels = new List<byte>();
        var ancestors = new HashSet<string>(StringComparer.Ordinal) { RealPath(directory) };
        // Samples in label order, then file order.
        foreach (int f in Enumerable.Range(0, classFolders.Count).OrderBy(f => folderLabels[f]))
        {
            var found = new List<string>();
            Walk(Path.Join(directory, classFolders[f]), classFolders[f], found, ignored, ancestors);
            if (found.Count == 0)
            {
                throw new DataFormatException(Path.Join(directory, classFolders[f]), $"the class folder '{classFolders[f]}' holds no images ({string.Join(", ", Extensions)})");
            }
            found.Sort(StringComparer.Ordinal);
            files.AddRange(found);
            labels.AddRange(Enumerable.Repeat((byte)folderLabels[f], found.Count));
        }
        ignored.Sort(StringComparer.Ordinal);
        var request = new Request(directory, [.. files], f => Path.Join(directory, f), [.. labels], names, options.ImageSize, options.ColorMode, options.SkipBadImages, options.Threads);
        return Read(request, clock) with { Ignored = ignored.AsReadOnly() };
    }

    /// <summary>
    /// Reads image files without labels, each resized and converted to <paramref name="shape"/>
    /// (height, width, 1 or 3 channels: a model's input), in the order given.
    /// </summary>
    /// <exception cref="DataFormatException">A file cannot be decoded (unless skipped), or the images would take more than <see cref="MemoryBudget.Limit"/>.</exception>
    public static ImageFolderData LoadFiles(IReadOnlyList<string> files, Shape shape, bool skipBadImages = false, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (!shape.IsImage || shape.Channels is not (1 or 3))
        {
            throw new ArgumentException($"Images are read as (height, width, 1 or 3 channels), not {shape}.", nameof(shape));
        }
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        var clock = Stopwatch.StartNew();
        var request = new Request(files.Count == 1 ? files[0] : "the images", [.. files], f => f, null, null, (shape.Height, shape.Width), (ColorMode)shape.Channels, skipBadImages, threads);
        return Read(request, clock);
    }

    /// <summary>
    /// The image files under <paramref name="directory"/>, recursively (links followed, hidden
    /// folders left out), as paths that start with <paramref name="directory"/>, sorted ordinally
    /// by the part under it.
    /// </summary>
    /// <exception cref="DataFormatException">The folder is missing or cannot be listed.</exception>
    public static IReadOnlyList<string> ListImages(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        CheckDirectory(directory);
        var found = new List<string>();
        var ancestors = new HashSet<string>(StringComparer.Ordinal);
        Walk(directory, "", found, [], ancestors);
        found.Sort(StringComparer.Ordinal);
        return found.Select(f => Path.Join(directory, f)).ToList().AsReadOnly();
    }

    private static void Check(ImageFolderOptions options)
    {
        if (options.ImageSize is var (height, width) && (height < 1 || width < 1 || (long)height * width > ImageDecoder.MaxPixels))
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"{height}×{width}", $"ImageSize must be positive and at most {ImageDecoder.MaxPixels} pixels.");
        }
        if (options.ColorMode is { } mode && !Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(options), mode, "ColorMode must be Grayscale or Rgb.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        if (options.ClassNames is { } names)
        {
            Dataset.CheckClassNames(names, nameof(options));
        }
    }

    private static void CheckDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DataFormatException(directory, File.Exists(directory) ? "is a file, not a folder of images" : "folder not found");
        }
    }

    /// <summary>The class names and each class folder's label.</summary>
    private static (string[] Names, int[] FolderLabels) Classes(string directory, List<string> folders, IReadOnlyList<string>? given)
    {
        if (given is null)
        {
            if (folders.Count < 2)
            {
                string found = folders.Count == 0 ? "none" : $"only '{folders[0]}'";
                throw new DataFormatException(directory, $"an image folder needs one subfolder per class, at least 2; found {found}");
            }
            if (folders.Count > Dataset.MaxClasses)
            {
                throw new DataFormatException(directory, $"{folders.Count} class folders, more than the {Dataset.MaxClasses} classes a model can have");
            }
            return ([.. folders], [.. Enumerable.Range(0, folders.Count)]);
        }
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < given.Count; i++)
        {
            index[given[i]] = i;
        }
        var labels = new int[folders.Count];
        for (int f = 0; f < folders.Count; f++)
        {
            labels[f] = index.TryGetValue(folders[f], out int label)
                ? label
                : throw new DataFormatException(Path.Join(directory, folders[f]), $"class '{folders[f]}' is not among the model's {given.Count} classes ({string.Join(", ", given.Take(10))}{(given.Count > 10 ? ", ..." : "")})");
        }
        if (folders.Count == 0)
        {
            throw new DataFormatException(directory, "an image folder needs one subfolder per class; found none");
        }
        return ([.. given], labels);
    }

    /// <summary>
    /// Adds the image files under <paramref name="full"/> (as paths below <paramref name="relative"/>)
    /// to <paramref name="images"/>, other files to <paramref name="ignored"/>; a folder whose real
    /// path is one of its <paramref name="ancestors"/> (a link loop) is not entered again.
    /// </summary>
    private static void Walk(string full, string relative, List<string> images, List<string> ignored, HashSet<string> ancestors)
    {
        string real = RealPath(full);
        if (!ancestors.Add(real))
        {
            return;
        }
        try
        {
            foreach (string entry in Entries(full))
            {
                string name = Path.GetFileName(entry);
                string path = relative.Length == 0 ? name : relative + "/" + name;
                if (Directory.Exists(entry))
                {
                    if (name.StartsWith('.'))
                    {
                        ignored.Add(path + "/");
                    }
                    else
                    {
                        Walk(entry, path, images, ignored, ancestors);
                    }
                }
                else
                {
                    (IsImageFile(name) ? images : ignored).Add(path);
                }
            }
        }
        finally
        {
            ancestors.Remove(real);
        }
    }

    private static string[] Entries(string directory)
    {
        try
        {
            return Directory.GetFileSystemEntries(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(directory, "the folder cannot be listed (no permission, or an I/O error)", innerException: e);
        }
    }

    /// <summary>The absolute path with every symbolic link in it resolved (as realpath(3)); after 40 links, the path as it stands.</summary>
    internal static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        for (int links = 0; links < 40; links++)
        {
            string root = Path.GetPathRoot(full) ?? "/";
            string[] parts = full[root.Length..].Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);
            string current = root;
            string? resolved = null;
            for (int i = 0; i < parts.Length && resolved is null; i++)
            {
                string next = Path.Join(current, parts[i]);
                if (new FileInfo(next).LinkTarget is { } target)
                {
                    resolved = Path.Join(Path.GetFullPath(target, current), string.Join(Path.DirectorySeparatorChar, parts[(i + 1)..]));
                }
                else
                {
                    current = next;
                }
            }
            if (resolved is null)
            {
                return current;
            }
            full = Path.GetFullPath(resolved);
        }
        return full;
    }

    /// <summary>What to read: <see cref="Files"/> as reported, <see cref="FullPath"/> to open them.</summary>
    private sealed record Request(string Source, string[] Files, Func<string, string> FullPath, byte[]? Labels, string[]? Names,
        (int Height, int Width)? Size, ColorMode? Mode, bool Skip, int Threads);

    /// <summary>
    /// Decodes every file once, each into its own slot. Without a size given, the first readable
    /// image's size is taken for all and checked as each file is opened; without a colour mode,
    /// the first image's encoding is the guess (gray files: 1 channel, and a colour file whose
    /// pixels are all gray still fits; else 3 channels, made 1 at the end when no pixel has colour),
    /// and a wrong guess of gray costs a second pass in RGB.
    /// </summary>
    private static ImageFolderData Read(Request r, Stopwatch clock)
    {
        int n = r.Files.Length;
        if (n == 0)
        {
            throw new DataFormatException(r.Source, "no images to read");
        }
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = r.Threads == 0 ? Environment.ProcessorCount : r.Threads };
        var first = r.Size is not null && r.Mode is not null ? default : FirstInfo(r);
        var (height, width) = r.Size ?? (first.Height, first.Width);
        bool auto = r.Mode is null;
        int channels = r.Mode is { } mode ? (int)mode : first.IsGrayscale ? 1 : 3;
        var infos = new ImageInfo[n];
        var outcomes = new ImageDecoder.SlotOutcome[n];
        var problems = new DataFormatException?[n];
        byte[] pixels;
        while (true)
        {
            int size = height * width * channels;
            CheckBudget(r.Source, n, height, width, channels, auto && channels == 3);
            var slots = new byte[(long)n * size];
            Array.Clear(problems);
            Parallel.For(0, n, parallel, i =>
            {
                try
                {
                    infos[i] = ImageDecoder.DecodeSlot(r.FullPath(r.Files[i]), channels, height, width, resize: r.Size is not null, grayOnly: auto, slots.AsSpan(i * size, size), out outcomes[i]);
                }
                catch (DataFormatException e)
                {
                    problems[i] = e;
                }
            });
            pixels = slots;
            if (channels == 1 && auto && Enumerable.Range(0, n).Any(i => problems[i] is null && outcomes[i] == ImageDecoder.SlotOutcome.HasColour))
            {
                channels = 3;
                continue;
            }
            break;
        }
        var skipped = new List<SkippedImage>();
        var decoded = Keep(r, problems, skipped);
        if (decoded.Any(i => outcomes[i] == ImageDecoder.SlotOutcome.OtherSize))
        {
            SizesDiffer(r, decoded, infos);
        }
        int sampleSize = height * width * channels;
        if (decoded.Count < n)
        {
            pixels = Compact(pixels, sampleSize, decoded);
        }
        if (channels == 3 && auto && !ImageDecoder.HasColor(pixels))
        {
            var gray = new byte[pixels.Length / 3];
            PixelConversion.GrayRgbToGray(pixels, gray);
            pixels = gray;
            channels = 1;
        }
        byte[]? labels = r.Labels is null ? null : [.. decoded.Select(i => r.Labels[i])];
        if (labels is not null && r.Names is not null)
        {
            CheckEveryClassRead(r, labels);
        }
        var data = new Dataset(pixels, labels, Shape.Image(height, width, channels), r.Names);
        return new ImageFolderData(data, decoded.Select(i => r.Files[i]).ToList().AsReadOnly(), skipped.AsReadOnly(), clock.Elapsed);
    }

    /// <summary>The header of the first file that has a readable one (the decoding pass reports the others); all unreadable: the first one's problem.</summary>
    private static ImageInfo FirstInfo(Request r)
    {
        DataFormatException? firstProblem = null;
        foreach (string file in r.Files)
        {
            try
            {
                return ImageDecoder.ReadInfo(r.FullPath(file));
            }
            catch (DataFormatException e)
            {
                firstProblem ??= e;
            }
        }
        var skipped = new List<SkippedImage>();
        Keep(r, [.. r.Files.Select(f => firstProblem)], skipped);
        throw firstProblem!;
    }

    /// <summary>
    /// The indices without a problem; the first problem in file order is thrown unless skipping,
    /// when each goes to <paramref name="skipped"/> (and none left is an error).
    /// </summary>
    private static List<int> Keep(Request r, DataFormatException?[] problems, List<SkippedImage> skipped)
    {
        var keep = new List<int>();
        for (int i = 0; i < problems.Length; i++)
        {
            if (problems[i] is not { } problem)
            {
                keep.Add(i);
            }
            else if (r.Skip)
            {
                skipped.Add(new SkippedImage(r.Files[i], problem.Problem));
            }
            else
            {
                throw new DataFormatException(problem.FilePath, $"{problem.Problem} (--skip-bad-images leaves such files out)", innerException: problem);
            }
        }
        if (keep.Count == 0)
        {
            throw new DataFormatException(r.Source, $"none of the {problems.Length:N0} images could be read (the first, {skipped[0].File}: {skipped[0].Problem})");
        }
        return keep;
    }

    /// <summary>The error for images of several sizes, listing them (the most common first).</summary>
    private static void SizesDiffer(Request r, List<int> good, ImageInfo[] infos)
    {
        var sizes = good.GroupBy(i => (infos[i].Height, infos[i].Width)).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).ToList();
        string list = string.Join(", ", sizes.Take(5).Select(g =>
            string.Create(CultureInfo.InvariantCulture, $"{g.Key.Height}×{g.Key.Width} ({g.Count():N0} image{(g.Count() == 1 ? "" : "s")}, e.g. {r.Files[g.First()]})")));
        string more = sizes.Count > 5 ? $" and {sizes.Count - 5} more" : "";
        throw new DataFormatException(r.Source, $"the images are not all one size: {sizes.Count} sizes (height×width): {list}{more}; pass --image-size HxW to resize them all to one size");
    }

    private static void CheckBudget(string source, int count, int height, int width, int channels, bool colourUnknown)
    {
        long bytes = (long)count * height * width * channels;
        long limit = MemoryBudget.Limit;
        if (bytes > limit || bytes > Array.MaxLength)
        {
            string why = bytes > limit ? $"above the memory limit of {MemoryBudget.Format(limit)} (raise it with --memory-limit)" : "more than one array holds";
            string colour = colourUnknown ? " (read as RGB until their colour is known; --color-mode grayscale takes a third)" : "";
            throw new DataFormatException(source, string.Create(CultureInfo.InvariantCulture,
                $"{count:N0} images of {height}×{width}×{channels} would take {MemoryBudget.Format(bytes)}{colour}, {why}; pass a smaller --image-size"));
        }
    }

    private static byte[] Compact(byte[] pixels, int size, List<int> keep)
    {
        var compact = new byte[(long)keep.Count * size];
        for (int j = 0; j < keep.Count; j++)
        {
            pixels.AsSpan(keep[j] * size, size).CopyTo(compact.AsSpan(j * size, size));
        }
        return compact;
    }

    /// <summary>With images skipped, a class folder may have none left: an error naming it.</summary>
    private static void CheckEveryClassRead(Request r, byte[] labels)
    {
        var present = new bool[r.Names!.Length];
        foreach (byte label in labels)
        {
            present[label] = true;
        }
        var expected = r.Labels!.Distinct();
        foreach (byte label in expected)
        {
            if (!present[label])
            {
                throw new DataFormatException(Path.Join(r.Source, r.Names[label]), $"none of the images of class '{r.Names[label]}' could be read");
            }
        }
    }
}
