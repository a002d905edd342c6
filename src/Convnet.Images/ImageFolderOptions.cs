using Convnet.Data;

namespace Convnet.Images;

/// <summary>How <see cref="ImageFolder.Load"/> reads a folder of images.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>
    /// Resize every image to (height, width). Null: the size all the images share; images of
    /// different sizes are then an error that lists the sizes found and says to pass --image-size.
    /// </summary>
    public (int Height, int Width)? ImageSize { get; init; }

    /// <summary>Null: <see cref="Images.ColorMode.Rgb"/> when any image has colour (by content), else <see cref="Images.ColorMode.Grayscale"/>.</summary>
    public ColorMode? ColorMode { get; init; }

    /// <summary>List files that cannot be decoded in <see cref="ImageFolderData.Skipped"/> instead of failing on the first.</summary>
    public bool SkipBadImages { get; init; }

    /// <summary>
    /// Fix the classes and their order (a model's): label k is ClassNames[k]; a class folder that is
    /// not among them is an error, and the folder may lack some of them. Null: the class folders,
    /// sorted ordinally (at least 2).
    /// </summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>Images decoded at a time; 0 = one per core. The result does not depend on it.</summary>
    public int Threads { get; init; }
}

/// <summary>What <see cref="ImageFolder.Load"/> or <see cref="ImageFolder.LoadFiles"/> read.</summary>
/// <param name="Data">The images (and for a labelled folder their labels and class names), in <paramref name="Files"/>' order.</param>
/// <param name="Files">
/// Each sample's file, in sample order: for a folder relative to it with '/' separators
/// ("cat/001.png"), for <see cref="ImageFolder.LoadFiles"/> as given.
/// </param>
/// <param name="Skipped">Files that could not be decoded, with <see cref="ImageFolderOptions.SkipBadImages"/>.</param>
/// <param name="ReadTime">How long listing and decoding took.</param>
public sealed record ImageFolderData(Dataset Data, IReadOnlyList<string> Files, IReadOnlyList<SkippedImage> Skipped, TimeSpan ReadTime)
{
    /// <summary>
    /// Files found but not read, relative to the folder with '/' separators: files whose extension is
    /// none of an image's, files directly in the folder (outside any class folder), and hidden
    /// folders (".git/", ".ipynb_checkpoints/", listed with a trailing '/').
    /// </summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];
}

/// <summary>A file left out by <see cref="ImageFolderOptions.SkipBadImages"/>, and why.</summary>
/// <param name="File">As in <see cref="ImageFolderData.Files"/>.</param>
/// <param name="Problem">What is wrong with it, e.g. "the image is truncated (its data ends before the last row)".</param>
public sealed record SkippedImage(string File, string Problem);
