using Convnet.Data;
using Convnet.Images;
using Convnet.Models;
using Convnet.Tensors;
using Convnet.Tests.Data;
using Xunit;

namespace Convnet.Tests.Images;

public sealed class ImageFolderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Root => _dir.Path;

    private string Flat(string relative, int height = 4, int width = 4, int channels = 1, byte value = 128) =>
        ImageTrees.WriteFlat(Path.Combine(Root, relative), height, width, channels, value);

    [Fact]
    public void Classes_are_the_subfolders_in_ordinal_order_and_samples_go_by_class_then_file()
    {
        Flat("b/2.png", value: 12);
        Flat("b/10.png", value: 11);
        Flat("a/x.png", value: 1);
        Flat("a/sub/deeper/y.png", value: 2); // nested: still class a
        Flat("a/Z.PNG", value: 3);            // upper-case extension
        Flat("B/q.png", value: 20);           // capital B sorts before a and b

        var read = ImageFolder.Load(Root);

        Assert.Equal(["B", "a", "b"], read.Data.ClassNames!);
        Assert.Equal(["B/q.png", "a/Z.PNG", "a/sub/deeper/y.png", "a/x.png", "b/10.png", "b/2.png"], read.Files);
        Assert.Equal([0, 1, 1, 1, 2, 2], read.Data.Labels!);
        Assert.Equal([20, 3, 2, 1, 11, 12], Enumerable.Range(0, 6).Select(i => read.Data.Image(i)[0]));
        Assert.Equal(Shape.Image(4, 4, 1), read.Data.SampleShape);
        Assert.Empty(read.Skipped);
        Assert.Empty(read.Ignored);
    }

    [Fact]
    public void Class_folder_names_with_spaces_and_non_ascii_letters_are_class_names()
    {
        Flat("ankle boot/1.png");
        Flat("Größe ñ/1.png");
        Flat("猫/1.jpeg".Replace(".jpeg", ".png", StringComparison.Ordinal));

        var read = ImageFolder.Load(Root);

        Assert.Equal(["Größe ñ", "ankle boot", "猫"], read.Data.ClassNames!);
        Assert.Equal(["Größe ñ/1.png", "ankle boot/1.png", "猫/1.png"], read.Files);
    }

    [Fact]
    public void Files_that_are_not_images_are_ignored_and_listed()
    {
        Flat("a/1.png");
        Flat("b/1.png");
        File.WriteAllText(Path.Combine(Root, "a", "notes.txt"), "hello");
        File.WriteAllText(Path.Combine(Root, "README.md"), "top level");
        Flat(".ipynb_checkpoints/1.png");
        Flat("b/.cache/1.png");

        var read = ImageFolder.Load(Root);

        Assert.Equal(["a", "b"], read.Data.ClassNames!);
        Assert.Equal(2, read.Data.Count);
        Assert.Equal([".ipynb_checkpoints/", "README.md", "a/notes.txt", "b/.cache/"], read.Ignored);
    }

    [Fact]
    public void Every_extension_of_the_list_is_read_whatever_its_case()
    {
        var pixels = ImageTrees.Noise(6, 6, 3, seed: 1);
        Flat("a/1.png");
        File.WriteAllBytes(Path.Combine(Root, "a", "2.JPG"), ImageDecoder.EncodeJpeg(pixels, 6, 6, 3));
        File.WriteAllBytes(Path.Combine(Root, "a", "3.Jpeg"), ImageDecoder.EncodeJpeg(pixels, 6, 6, 3));
        Flat("b/1.PnG");

        var read = ImageFolder.Load(Root, new ImageFolderOptions { ImageSize = (4, 4) });

        Assert.Equal(["a/1.png", "a/2.JPG", "a/3.Jpeg", "b/1.PnG"], read.Files);
        Assert.True(ImageFolder.IsImageFile("x.WEBP") && ImageFolder.IsImageFile("x.gif") && ImageFolder.IsImageFile("x.Bmp"));
        Assert.False(ImageFolder.IsImageFile("x.tiff"));
    }

    [Fact]
    public void Mixed_sizes_are_an_error_listing_the_sizes_unless_a_size_is_given()
    {
        Flat("a/1.png", 28, 28);
        Flat("a/2.png", 28, 28);
        Flat("b/1.png", 32, 40);

        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Root));
        var read = ImageFolder.Load(Root, new ImageFolderOptions { ImageSize = (20, 24) });

        Assert.Equal($"{Root}: the images are not all one size: 2 sizes (height×width): 28×28 (2 images, e.g. a/1.png), 32×40 (1 image, e.g. b/1.png); pass --image-size HxW to resize them all to one size", e.Message);
        Assert.Equal(Shape.Image(20, 24, 1), read.Data.SampleShape);
        Assert.Equal(3, read.Data.Count);
        Assert.All(read.Data.Pixels, v => Assert.Equal(128, v));
    }

    [Fact]
    public void An_empty_class_folder_a_single_class_and_no_class_are_errors_naming_the_folder()
    {
        Flat("cats/1.png");
        var single = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Root));
        Directory.CreateDirectory(Path.Combine(Root, "dogs"));
        File.WriteAllText(Path.Combine(Root, "dogs", "readme.txt"), "no images here");
        var empty = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Root));
        using var none = new TempDir();
        var noClass = Assert.Throws<DataFormatException>(() => ImageFolder.Load(none.Path));
        var missing = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Path.Combine(Root, "nowhere")));

        Assert.Equal($"{Root}: an image folder needs one subfolder per class, at least 2; found only 'cats'", single.Message);
        Assert.Equal($"{Path.Combine(Root, "dogs")}: the class folder 'dogs' holds no images (.png, .jpg, .jpeg, .bmp, .gif, .webp)", empty.Message);
        Assert.Equal($"{none.Path}: an image folder needs one subfolder per class, at least 2; found none", noClass.Message);
        Assert.Equal($"{Path.Combine(Root, "nowhere")}: folder not found", missing.Message);
    }

    [Fact]
    public void A_file_with_an_image_extension_that_is_no_image_is_an_error_or_skipped()
    {
        Flat("a/1.png");
        Flat("a/2.png");
        Flat("b/1.png");
        string bad = Path.Combine(Root, "b", "0-bad.png");
        File.WriteAllText(bad, "not a png");
        string cut = Path.Combine(Root, "a", "3.png");
        ImageTrees.Truncated(ImageTrees.WritePng(_dir.File("big.png"), ImageTrees.Noise(64, 64, 1, seed: 3), 64, 64, 1), cut, 300);

        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Root, new ImageFolderOptions { ImageSize = (4, 4) }));
        var read = ImageFolder.Load(Root, new ImageFolderOptions { ImageSize = (4, 4), SkipBadImages = true });

        // The first bad file in sample order (class a before b) is the one named.
        Assert.Equal($"{cut}: the image is truncated (its data ends before the last row) (--skip-bad-images leaves such files out)", e.Message);
        Assert.Equal(["a/1.png", "a/2.png", "b/1.png"], read.Files);
        Assert.Equal([new SkippedImage("a/3.png", "the image is truncated (its data ends before the last row)"), new SkippedImage("b/0-bad.png", $"not an image this build can decode ({ImageDecoder.Formats})")], read.Skipped);
        Assert.Equal([0, 0, 1], read.Data.Labels!);
    }

    [Fact]
    public void A_truncated_image_is_an_error_naming_it()
    {
        Flat("a/1.png");
        Flat("b/1.png", 64, 64);
        string cut = ImageTrees.Truncated(ImageTrees.WritePng(_dir.File("big.png"), ImageTrees.Noise(64, 64, 1, seed: 3), 64, 64, 1), Path.Combine(Root, "b", "2.png"), 300);

        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Root, new ImageFolderOptions { ImageSize = (8, 8) }));

        Assert.Equal($"{cut}: the image is truncated (its data ends before the last row) (--skip-bad-images leaves such files out)", e.Message);
    }

    [Fact]
    public void A_class_whose_every_image_is_skipped_is_an_error()
    {
        Flat("a/1.png");
        Directory.CreateDirectory(Path.Combine(Root, "b"));
        File.WriteAllText(Path.Combine(Root, "b", "x.png"), "junk");

        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Root, new ImageFolderOptions { SkipBadImages = true }));

        Assert.Equal($"{Path.Combine(Root, "b")}: none of the images of class 'b' could be read", e.Message);
    }

    [Fact]
    public void Symbolic_links_to_files_and_folders_are_followed_and_a_loop_does_not_hang()
    {
        using var elsewhere = new TempDir();
        string outside = ImageTrees.WriteFlat(Path.Combine(elsewhere.Path, "pics", "o.png"), 4, 4, value: 9);
        Flat("a/1.png", value: 1);
        Flat("b/1.png", value: 2);
        File.CreateSymbolicLink(Path.Combine(Root, "a", "linked.png"), outside);
        Directory.CreateSymbolicLink(Path.Combine(Root, "b", "more"), Path.Combine(elsewhere.Path, "pics"));
        Directory.CreateSymbolicLink(Path.Combine(Root, "a", "loop"), Path.Combine(Root, "a"));        // a/loop → a
        Directory.CreateSymbolicLink(Path.Combine(Root, "b", "up"), Root);                              // b/up → the root, above b
        Directory.CreateSymbolicLink(Path.Combine(Root, "c"), Path.Combine(elsewhere.Path, "pics"));   // a class folder that is a link

        var read = ImageFolder.Load(Root);

        // a/loop and b/up lead back to a folder above them: not entered again.
        Assert.Equal(["a/1.png", "a/linked.png", "b/1.png", "b/more/o.png", "c/o.png"], read.Files);
        Assert.Equal(["a", "b", "c"], read.Data.ClassNames!);
    }

    [Fact]
    public void All_gray_rgb_files_read_as_grayscale_and_one_coloured_image_makes_it_rgb()
    {
        var grayRgb = ImageTrees.Noise(5, 5, 3, seed: 1, gray: true);
        ImageTrees.WritePng(Path.Combine(Root, "a", "1.png"), grayRgb, 5, 5, 3);
        ImageTrees.WritePng(Path.Combine(Root, "b", "1.png"), ImageTrees.Noise(5, 5, 3, seed: 2, gray: true), 5, 5, 3);

        var gray = ImageFolder.Load(Root);
        var colour = ImageTrees.Noise(5, 5, 3, seed: 3);
        ImageTrees.WritePng(Path.Combine(Root, "b", "2.png"), colour, 5, 5, 3);
        var rgb = ImageFolder.Load(Root);
        var forced = ImageFolder.Load(Root, new ImageFolderOptions { ColorMode = ColorMode.Grayscale });

        Assert.Equal(Shape.Image(5, 5, 1), gray.Data.SampleShape);
        Assert.Equal(grayRgb.Where((_, i) => i % 3 == 0), gray.Data.Image(0).ToArray());
        Assert.Equal(Shape.Image(5, 5, 3), rgb.Data.SampleShape);
        Assert.Equal(colour, rgb.Data.Image(2).ToArray());
        Assert.Equal(Shape.Image(5, 5, 1), forced.Data.SampleShape);
    }

    [Fact]
    public void A_gray_file_first_then_a_gray_rgb_file_stay_gray_and_a_coloured_file_after_them_makes_all_rgb()
    {
        var gray = ImageTrees.Noise(5, 5, 1, seed: 1);
        ImageTrees.WritePng(Path.Combine(Root, "a", "1.png"), gray, 5, 5, 1);                                      // a grayscale PNG
        var grayRgb = ImageTrees.Noise(5, 5, 3, seed: 2, gray: true);
        ImageTrees.WritePng(Path.Combine(Root, "b", "1.png"), grayRgb, 5, 5, 3);                                   // an RGB PNG of grays

        var allGray = ImageFolder.Load(Root);
        var colour = ImageTrees.Noise(5, 5, 3, seed: 3);
        ImageTrees.WritePng(Path.Combine(Root, "b", "2.png"), colour, 5, 5, 3);
        var rgb = ImageFolder.Load(Root, new ImageFolderOptions { Threads = 1 });

        Assert.Equal(Shape.Image(5, 5, 1), allGray.Data.SampleShape);
        Assert.Equal([.. gray, .. grayRgb.Where((_, i) => i % 3 == 0)], allGray.Data.Pixels);
        Assert.Equal(Shape.Image(5, 5, 3), rgb.Data.SampleShape);
        Assert.Equal([.. gray.SelectMany(v => new[] { v, v, v }), .. grayRgb, .. colour], rgb.Data.Pixels);
    }

    [Fact]
    public void The_result_is_the_same_for_one_and_two_threads()
    {
        for (int i = 0; i < 40; i++)
        {
            ImageTrees.WritePng(Path.Combine(Root, $"class{i % 3}", $"{i:D2}.png"), ImageTrees.Noise(9 + i % 4, 7, 3, seed: (ulong)i), 9 + i % 4, 7, 3);
        }

        var one = ImageFolder.Load(Root, new ImageFolderOptions { ImageSize = (8, 8), Threads = 1 });
        var two = ImageFolder.Load(Root, new ImageFolderOptions { ImageSize = (8, 8), Threads = 2 });

        Assert.Equal(one.Data.Pixels, two.Data.Pixels);
        Assert.Equal(one.Data.Labels, two.Data.Labels);
        Assert.Equal(one.Files, two.Files);
        Assert.Equal(Shape.Image(8, 8, 3), one.Data.SampleShape);
    }

    [Fact]
    public void Images_above_the_memory_budget_are_refused_before_decoding()
    {
        Flat("a/1.png");
        Flat("b/1.png");
        Flat("b/2.png");

        DataFormatException e;
        using (MemoryBudget.Use(50_000))
        {
            e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Root, new ImageFolderOptions { ImageSize = (100, 100), ColorMode = ColorMode.Rgb }));
        }

        Assert.Equal($"{Root}: 3 images of 100×100×3 would take 88 KB, above the memory limit of 49 KB (raise it with --memory-limit); pass a smaller --image-size", e.Message);
    }

    [Fact]
    public void Given_class_names_fix_the_labels_and_a_folder_not_among_them_is_an_error()
    {
        Flat("dog/1.png", value: 2);
        Flat("cat/1.png", value: 1);

        var read = ImageFolder.Load(Root, new ImageFolderOptions { ClassNames = ["zebra", "dog", "cat"] });
        var e = Assert.Throws<DataFormatException>(() => ImageFolder.Load(Root, new ImageFolderOptions { ClassNames = ["dog", "bird"] }));

        Assert.Equal(["zebra", "dog", "cat"], read.Data.ClassNames!);
        Assert.Equal([1, 2], read.Data.Labels!);
        Assert.Equal(["dog/1.png", "cat/1.png"], read.Files);
        Assert.Equal($"{Path.Combine(Root, "cat")}: class 'cat' is not among the model's 2 classes (dog, bird)", e.Message);
    }

    [Fact]
    public void Load_files_reads_each_file_at_the_shape_given_and_list_images_finds_them_sorted()
    {
        Flat("x/b.png", 10, 10, 3, value: 50);
        Flat("a.JPG".Replace(".JPG", ".png", StringComparison.Ordinal), 3, 5, 1, value: 200);
        File.WriteAllText(Path.Combine(Root, "x", "skip.txt"), "");

        var files = ImageFolder.ListImages(Root);
        var read = ImageFolder.LoadFiles(files, Shape.Image(4, 4, 3));

        Assert.Equal([Path.Join(Root, "a.png"), Path.Join(Root, "x/b.png")], files);
        Assert.Equal(files, read.Files);
        Assert.False(read.Data.HasLabels);
        Assert.Equal(Shape.Image(4, 4, 3), read.Data.SampleShape);
        Assert.All(read.Data.Image(0).ToArray(), v => Assert.Equal(200, v));
        Assert.All(read.Data.Image(1).ToArray(), v => Assert.Equal(50, v));
    }
}
