using System.CommandLine;
using System.Globalization;
using Convnet.Cli.Commands;
using Convnet.Data;
using Convnet.Images;
using Convnet.Models;

namespace Convnet.Cli;

/// <summary>The three image-folder options of one command, created fresh for it.</summary>
internal sealed class ImageOptions
{
    private readonly Option<string?> _size;
    private readonly Option<string?> _mode;
    private readonly Option<bool> _skip = Options.SkipBadImages();

    /// <param name="forModel">The command reads images for a model, whose input shape decides their size and colour (evaluate, predict, show --model).</param>
    public ImageOptions(bool forModel = false)
    {
        _size = forModel ? Options.ImageSize("the model's input size; when given, it must be the model's") : Options.ImageSize();
        _mode = forModel ? Options.ColorMode("the model's channels; when given, it must agree with them") : Options.ColorMode();
    }

    public void AddTo(Command command)
    {
        command.Options.Add(_size);
        command.Options.Add(_mode);
        command.Options.Add(_skip);
    }

    /// <summary>The values given (already checked while parsing), with <paramref name="threads"/> as checked by <see cref="Options.CheckThreads"/>.</summary>
    public ImageFolderOptions Read(ParseResult parse, int threads) => new()
    {
        ImageSize = parse.GetValue(_size) is { } size ? DataInput.ParseImageSize(size) : null,
        ColorMode = parse.GetValue(_mode) is { } mode ? DataInput.ParseColorMode(mode) : null,
        SkipBadImages = parse.GetValue(_skip),
        Threads = threads,
    };
}

/// <summary>What <see cref="DataInput"/> read: the data, and for a folder its files and what was left out.</summary>
/// <param name="Folder">The folder's reading (files in sample order, skipped and ignored files), or null for a CSV.</param>
internal sealed record DataRead(Dataset Data, ImageFolderData? Folder, TimeSpan ReadTime)
{
    public bool IsFolder => Folder is not null;
}

/// <summary>
/// The one entry for a command's data argument: a folder is an image folder (one subfolder per
/// class, <see cref="ImageFolder"/>), anything else a Kaggle-format CSV (<see cref="KaggleCsv"/>).
/// Errors are the library's <see cref="DataFormatException"/> (naming the file) or <see cref="UserError"/>.
/// </summary>
internal static class DataInput
{
    /// <summary>Whether <paramref name="path"/> names an image folder rather than a CSV.</summary>
    public static bool IsFolder(string path) => Directory.Exists(path);

    /// <summary>
    /// Labelled data from a CSV (a label column required) or an image folder. With <paramref name="model"/>
    /// (evaluate): a folder's images are read at the model's input size and channels, and its
    /// classes are labelled by the model's class names (its numbers "0", "1", ... when it has none).
    /// </summary>
    public static DataRead ReadLabelled(string path, ImageFolderOptions options, IClassifier? model = null) => Read(path, options, model, requireLabels: true);

    /// <summary>As <see cref="ReadLabelled"/>, but a CSV may lack the label column (a folder always has labels).</summary>
    public static DataRead Read(string path, ImageFolderOptions options, IClassifier? model = null) => Read(path, options, model, requireLabels: false);

    private static DataRead Read(string path, ImageFolderOptions options, IClassifier? model, bool requireLabels)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        if (!IsFolder(path))
        {
            RefuseImageOptions(path, options);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var csv = requireLabels ? KaggleCsv.ReadLabelled(path) : KaggleCsv.Read(path, requireLabels: false);
            return new DataRead(csv, null, clock.Elapsed);
        }
        var folderOptions = options;
        if (model is not null)
        {
            folderOptions = ForModel(folderOptions, model);
        }
        var folder = ImageFolder.Load(path, folderOptions);
        return new DataRead(folder.Data, folder, folder.ReadTime);
    }

    /// <summary>The first image option given on the command line, for "applies to image folders only" messages; null when none is.</summary>
    public static string? FirstGiven(this ImageFolderOptions options) => options.ImageSize is not null ? Options.ImageSizeName
        : options.ColorMode is not null ? Options.ColorModeName
        : options.SkipBadImages ? Options.SkipBadImagesName
        : null;

    /// <summary>An image option given for a CSV (which is not a folder) is an error naming the option.</summary>
    public static void RefuseImageOptions(string path, ImageFolderOptions options)
    {
        if (options.FirstGiven() is { } option)
        {
            throw new UserError($"{option} applies to image folders; {path} is not a folder (a CSV's images are its rows)");
        }
    }

    /// <summary>An --image-size or --color-mode that disagrees with the model's input is an error (predict of image files).</summary>
    public static void CheckAgainstModel(ImageFolderOptions options, IClassifier model) =>
        ForModel(options, model);

    /// <summary>The model's input decides the size and channels (an option that disagrees is an error), its names the classes.</summary>
    private static ImageFolderOptions ForModel(ImageFolderOptions options, IClassifier model)
    {
        var shape = model.InputShape;
        if (!shape.IsImage || shape.Channels is not (1 or 3))
        {
            throw new UserError($"the model takes {shape}, not images of 1 or 3 channels, so it cannot read an image folder");
        }
        if (options.ImageSize is var (height, width) && (height, width) != (shape.Height, shape.Width))
        {
            throw new UserError($"{Options.ImageSizeName} {height}x{width} disagrees with the model, which takes {shape.Height}×{shape.Width} images (leave the option out to resize to the model's size)");
        }
        if (options.ColorMode is { } mode && (int)mode != shape.Channels)
        {
            throw new UserError($"{Options.ColorModeName} {Name(mode)} disagrees with the model, which takes {Name((ColorMode)shape.Channels)} images");
        }
        var names = model.ClassNames ?? [.. Enumerable.Range(0, model.Classes).Select(c => c.ToString(CultureInfo.InvariantCulture))];
        return options with { ImageSize = (shape.Height, shape.Width), ColorMode = (ColorMode)shape.Channels, ClassNames = names };
    }

    /// <summary>"grayscale" or "rgb", as the option takes it.</summary>
    public static string Name(ColorMode mode) => mode == ColorMode.Rgb ? "rgb" : "grayscale";

    /// <summary>"64x64" (also "64×64", "64X64") as (height, width), each 1 to 65,535 and at most <see cref="ImageDecoder.MaxPixels"/> in all; null when it is not one.</summary>
    public static (int Height, int Width)? ParseImageSize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Trim().Split(['x', 'X', '×']);
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int height)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int width)
            || height is < 1 or > 65_535 || width is < 1 or > 65_535 || (long)height * width > ImageDecoder.MaxPixels)
        {
            return null;
        }
        return (height, width);
    }

    /// <summary>"grayscale" or "rgb" (any case); null otherwise.</summary>
    public static ColorMode? ParseColorMode(string text) => text.Trim().ToLowerInvariant() switch
    {
        "grayscale" => ColorMode.Grayscale,
        "rgb" => ColorMode.Rgb,
        _ => null,
    };

    /// <summary>
    /// "Read 600 images of 16×16×3 in 3 classes (circle, square, triangle) from shapes in 0.21 s
    /// (2,857 images/s)" for a folder; for a CSV the line train has always printed.
    /// </summary>
    public static string Describe(DataRead read, string path)
    {
        var data = read.Data;
        double seconds = read.ReadTime.TotalSeconds;
        if (!read.IsFolder)
        {
            return string.Create(CultureInfo.InvariantCulture, $"Read {data.Count:N0} images from {path} in {seconds:F2} s");
        }
        var shape = data.SampleShape;
        var names = data.ClassNames ?? [];
        string classes = string.Join(", ", names.Take(10)) + (names.Count > 10 ? $", ... ({names.Count - 10} more)" : "");
        string rate = seconds > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({data.Count / seconds:N0} images/s)") : "";
        return string.Create(CultureInfo.InvariantCulture, $"Read {data.Count:N0} images of {shape.Height}×{shape.Width}×{shape.Channels} in {names.Count} classes ({classes}) from {path} in {seconds:F2} s{rate}");
    }

    /// <summary>For a folder: the files skipped (each with its problem, up to 20) and those ignored (counted, the first 5 named).</summary>
    public static void ReportLeftOut(DataRead read, TextWriter output)
    {
        if (read.Folder is not { } folder)
        {
            return;
        }
        if (folder.Skipped.Count > 0)
        {
            output.WriteLine($"Skipped {folder.Skipped.Count:N0} file(s) that could not be decoded:");
            foreach (var s in folder.Skipped.Take(20))
            {
                output.WriteLine($"  {s.File}: {s.Problem}");
            }
            if (folder.Skipped.Count > 20)
            {
                output.WriteLine($"  ... and {folder.Skipped.Count - 20:N0} more");
            }
        }
        if (folder.Ignored.Count > 0)
        {
            string more = folder.Ignored.Count > 5 ? ", ..." : "";
            output.WriteLine($"Ignored {folder.Ignored.Count:N0} file(s) that are not images in class folders: {string.Join(", ", folder.Ignored.Take(5))}{more}");
        }
    }
}
