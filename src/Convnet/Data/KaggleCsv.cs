using System.Buffers;
using System.Globalization;
using System.Text;
using Convnet.Tensors;
using Convnet.IO;

namespace Convnet.Data;

/// <summary>
/// Kaggle Digit Recognizer CSV files: <c>label,pixel0,...,pixel783</c> (train.csv),
/// <c>pixel0,...,pixel783</c> (test.csv) and <c>ImageId,Label</c> (a submission, or the
/// labels of a test set). Pixel i of an image is row i / 28, column i % 28.
/// </summary>
/// <remarks>
/// <para>The same layout holds square grayscale images of any side up to <see cref="MaxImageSide"/>:
/// <c>[label,]pixel0..pixel{N−1}</c> with N = side², or numbered from 1, <c>pixel1..pixelN</c> (Kaggle's
/// Fashion-MNIST CSVs). Labels that are all integers 0-255 are the classes' numbers, as the digits;
/// otherwise every distinct label text is a class, and the dataset's
/// <see cref="Dataset.ClassNames"/> are those texts in ordinal order.</para>
/// <para>Readers accept LF or CRLF line ends, a UTF-8 byte order mark, quoted fields, blank lines
/// and a missing final line end, and reject anything else with a <see cref="DataFormatException"/>
/// that names the line and column. They never assume a row count. Writers write LF, no BOM,
/// no quotes (but around a class name that needs them), to a temporary file that replaces
/// <c>path</c> only when complete.</para>
/// </remarks>
public static class KaggleCsv
{
    /// <summary>The side of a Kaggle digit in pixels (28).</summary>
    public const int ImageSide = 28;
    /// <summary>The pixels of one Kaggle digit, 28 × 28 = 784, one column each.</summary>
    public const int PixelCount = ImageSide * ImageSide;
    /// <summary>The number of classes of the Kaggle digits, 0-9.</summary>
    public const int ClassCount = 10;
    /// <summary>The largest side of an image a CSV may hold (512: 262,144 pixel columns, a row of up to 1 MB).</summary>
    public const int MaxImageSide = 512;

    /// <summary>The header of the label column of a training file (<c>label</c>).</summary>
    public const string LabelColumn = "label";
    /// <summary>The header of a submission's first column, the 1-based image number (<c>ImageId</c>).</summary>
    public const string ImageIdColumn = "ImageId";
    /// <summary>The header of a submission's second column, the predicted class (<c>Label</c>).</summary>
    public const string PredictionColumn = "Label";

    /// <summary>The shape of one Kaggle digit, [28, 28, 1] (height, width, channels).</summary>
    public static Shape ImageShape { get; } = Shape.Image(ImageSide, ImageSide, 1);

    private static readonly SearchValues<byte> DigitsAndCommas = SearchValues.Create("0123456789,"u8);

    // Characters that make a CSV field need quotes.
    private static readonly SearchValues<char> NeedQuotes = SearchValues.Create(",\"\r\n");

    /// <summary>Reads a training file, <c>label,pixel0..</c>; a file without labels is an error.</summary>
    public static Dataset ReadLabelled(string path) => Read(path, requireLabels: true);

    /// <summary>
    /// Reads a test file, <c>pixel0..</c>. A labelled file is accepted too (its labels
    /// are checked, then dropped), so that a model can predict on training data.
    /// </summary>
    public static Dataset ReadUnlabelled(string path)
    {
        var data = Read(path, requireLabels: false);
        return data.HasLabels ? new Dataset(data.Pixels, null, data.SampleShape) : data;
    }

    /// <summary>
    /// Reads either image file, telling them apart by the header: the result has labels when
    /// the first column is <c>label</c>. With <paramref name="requireLabels"/>, a file whose
    /// first column is <c>pixel0</c> is an error that says the label column is missing.
    /// The images are square, their side from the number of pixel columns, unless
    /// <paramref name="imageShape"/> (a model's input) is given: then a row must hold exactly its
    /// values, in (height, width, channels) order, and the header says so when it does not.
    /// </summary>
    public static Dataset Read(string path, bool requireLabels = false, Shape? imageShape = null)
    {
        using var input = CsvInput.Open(path);
        var layout = CheckImageHeader(input, requireLabels, imageShape);
        bool labelled = layout.Labelled;
        int pixelCount = layout.Shape.Size;
        int columns = layout.Columns;

        // One row per line after the header, unless there are blank lines: sizing the buffer
        // from a quick count of line breaks saves growing it or trimming it at the end, each a
        // copy of tens of megabytes. A row takes at least one digit and one comma or line end
        // per field, which bounds the count when the line breaks are mostly blank lines (found
        // by fuzzing: a megabyte of them made a 784 MB buffer), and so the buffer by the file's size.
        long mostRows = input.Length / (2L * columns) + 1;
        int maxRows = Array.MaxLength / pixelCount;
        int capacity = (int)Math.Clamp(Math.Min(input.CountLineBreaks(), mostRows), 1, maxRows);
        var pixels = GC.AllocateUninitializedArray<byte>(capacity * pixelCount);
        byte[]? labels = labelled ? new byte[capacity] : null;
        var texts = labelled ? new CsvLabels() : null;
        int rows = 0;
        while (input.Read())
        {
            if (input.FieldCount != columns)
            {
                throw WrongFieldCount(input, layout);
            }
            if (rows == capacity)
            {
                capacity = (int)Math.Min(2L * capacity, maxRows);
                if (rows == capacity)
                {
                    throw input.RowError($"too many rows (more than {rows})");
                }
                Array.Resize(ref pixels, capacity * pixelCount);
                if (labels is not null)
                {
                    Array.Resize(ref labels, capacity);
                }
            }
            var image = pixels.AsSpan(rows * pixelCount, pixelCount);
            ReadOnlySpan<byte> raw = input.RawRow;
            if (labels is not null)
            {
                int id = texts!.Add(input, 0, LabelColumn);
                labels[rows] = id >= 0 ? (byte)id : throw TooManyClasses(input, texts);
                // The pixels follow the first comma, unless the label is quoted around a comma,
                // in which case the rest has a quote and takes the careful path.
                raw = raw[(raw.IndexOf((byte)',') + 1)..];
            }
            if (!TryParsePlainPixels(raw, image))
            {
                ParseFields(input, image, layout);
            }
            rows++;
        }
        if (rows == 0)
        {
            throw new DataFormatException(input.Path, "has a header but no rows");
        }
        if (rows != capacity)
        {
            Array.Resize(ref pixels, rows * pixelCount);
            if (labels is not null)
            {
                Array.Resize(ref labels, rows);
            }
        }
        IReadOnlyList<string>? names = null;
        if (labels is not null)
        {
            (byte[] classOf, names) = texts!.Resolve();
            CsvLabels.Apply(classOf, labels);
        }
        return new Dataset(pixels, labels, layout.Shape, names);
    }

    /// <summary>
    /// Reads <c>ImageId,Label</c> (a submission, or the labels of a test set) with the labels
    /// 0-9 of the Kaggle digits. ImageIds must run 1, 2, ..., n in order; the result holds label
    /// k at index k - 1.
    /// </summary>
    public static byte[] ReadLabels(string path) => ReadLabels(path, ClassCount);

    /// <summary>Reads <c>ImageId,Label</c> with labels that are the numbers 0..<paramref name="classCount"/> − 1.</summary>
    public static byte[] ReadLabels(string path, int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classCount, Dataset.MaxClasses);
        return ReadLabelColumn(path, input => input.ParseByte(1, classCount - 1, PredictionColumn));
    }

    /// <summary>
    /// Reads <c>ImageId,Label</c> whose labels are among <paramref name="classNames"/> (a model's
    /// classes); the result holds each label's index there. A label that is not one of them is an
    /// error naming its line.
    /// </summary>
    public static byte[] ReadLabels(string path, IReadOnlyList<string> classNames)
    {
        Dataset.CheckClassNames(classNames, nameof(classNames));
        var index = new Dictionary<string, int>(classNames.Count, StringComparer.Ordinal);
        for (int i = 0; i < classNames.Count; i++)
        {
            index[classNames[i]] = i;
        }
        return ReadLabelColumn(path, input =>
        {
            ReadOnlySpan<byte> s = input.Field(1);
            return index.TryGetValue(Encoding.UTF8.GetString(s), out int c)
                ? (byte)c
                : throw input.FieldError(1, PredictionColumn, s.IsEmpty
                    ? "empty field, expected a class name"
                    : $"{CsvInput.Show(s)} is not one of the {classNames.Count} classes ({Abbreviate(classNames)})");
        });
    }

    /// <summary>
    /// Reads several <c>ImageId,Label</c> files (a submission and the true labels) whose labels
    /// are read as an image file's (<see cref="Read"/>): numbers when every label of every file is
    /// an integer 0-255, else class names, then shared by all the files (sorted ordinally).
    /// </summary>
    public static (byte[][] Labels, IReadOnlyList<string>? ClassNames) ReadLabelFiles(params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var texts = new CsvLabels();
        var labels = new byte[paths.Length][];
        for (int f = 0; f < paths.Length; f++)
        {
            labels[f] = ReadLabelColumn(paths[f], input =>
            {
                int id = texts.Add(input, 1, PredictionColumn);
                return id >= 0 ? (byte)id : throw TooManyClasses(input, texts, column: 1);
            });
        }
        var (classOf, names) = texts.Resolve();
        foreach (var file in labels)
        {
            CsvLabels.Apply(classOf, file);
        }
        return (labels, names);
    }

    /// <summary>The <c>ImageId,Label</c> reader: checks the header and the ImageIds, and reads each label with <paramref name="label"/>.</summary>
    private static byte[] ReadLabelColumn(string path, Func<CsvInput, byte> label)
    {
        using var input = CsvInput.Open(path);
        var headers = input.Headers;
        if (headers[0] is LabelColumn || IsPixelName(headers[0], 0) || IsPixelName(headers[0], 1))
        {
            throw new DataFormatException(path, $"this is an image file (its first column is '{headers[0]}'), not an {ImageIdColumn},{PredictionColumn} file", 1, 1, ImageIdColumn);
        }
        string[] expected = [ImageIdColumn, PredictionColumn];
        for (int i = 0; i < Math.Min(headers.Count, expected.Length); i++)
        {
            if (headers[i] != expected[i])
            {
                throw new DataFormatException(path, $"header is {CsvInput.Show(headers[i])}, expected '{expected[i]}'", 1, i + 1, expected[i]);
            }
        }
        if (headers.Count != expected.Length)
        {
            throw new DataFormatException(path, $"header has {headers.Count} columns, expected 2 ({ImageIdColumn},{PredictionColumn})", 1);
        }

        int capacity = (int)Math.Min(input.Length / 4 + 1, Array.MaxLength);
        var labels = new byte[capacity];
        int rows = 0;
        while (input.Read())
        {
            if (input.FieldCount != 2)
            {
                throw input.FieldCount < 2
                    ? input.RowError($"row has {input.FieldCount} field, expected 2 ({ImageIdColumn},{PredictionColumn})", input.FieldCount + 1, expected[input.FieldCount])
                    : input.RowError($"row has {input.FieldCount} fields, expected 2 ({ImageIdColumn},{PredictionColumn})", 3);
            }
            long id = input.ParseNonNegative(0, 0, int.MaxValue, ImageIdColumn);
            if (id != rows + 1)
            {
                throw input.FieldError(0, ImageIdColumn, $"ImageId {id} is out of order, expected {rows + 1} (ImageIds must run 1, 2, ..., n)");
            }
            if (rows == labels.Length)
            {
                Array.Resize(ref labels, (int)Math.Min(2L * rows, Array.MaxLength));
            }
            labels[rows++] = label(input);
        }
        if (rows == 0)
        {
            throw new DataFormatException(path, "has a header but no rows");
        }
        Array.Resize(ref labels, rows);
        return labels;
    }

    /// <summary>
    /// Writes <c>label,pixel0..pixel{N−1}</c>: the labels as numbers, or as the dataset's class
    /// names when it has some (so that <see cref="Read"/> gives the same dataset back).
    /// </summary>
    public static void WriteLabelled(string path, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.HasLabels)
        {
            throw new ArgumentException("A labelled file needs a dataset with labels.", nameof(data));
        }
        WriteImages(path, data, labelled: true);
    }

    /// <summary>Writes <c>pixel0..pixel{N−1}</c>, leaving out the labels if the dataset has them.</summary>
    public static void WriteUnlabelled(string path, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        WriteImages(path, data, labelled: false);
    }

    /// <summary>
    /// Writes <c>ImageId,Label</c> with ImageIds from 1: a Kaggle submission. The Label column
    /// holds the numbers, or with <paramref name="classNames"/> (a model's) each label's name.
    /// </summary>
    public static void WriteLabels(string path, ReadOnlySpan<byte> labels, IReadOnlyList<string>? classNames = null)
    {
        string[]? fields = null;
        if (classNames is not null)
        {
            Dataset.CheckClassNames(classNames, nameof(classNames));
            fields = [.. classNames.Select(Field)];
            int bad = labels.IndexOfAnyExceptInRange((byte)0, (byte)(classNames.Count - 1));
            if (bad >= 0)
            {
                throw new ArgumentException($"Label {labels[bad]} at {bad} but only {classNames.Count} class names.", nameof(labels));
            }
        }
        using var file = AtomicFile.Create(path);
        var writer = new Utf8LineWriter(file.Stream);
        writer.AppendText($"{ImageIdColumn},{PredictionColumn}\n");
        for (int i = 0; i < labels.Length; i++)
        {
            writer.Reserve(Utf8LineWriter.MaxNumberBytes + 1);
            writer.AppendNumber(i + 1);
            writer.AppendChar(',');
            if (fields is null)
            {
                writer.AppendNumber(labels[i]);
            }
            else
            {
                writer.AppendUtf8(fields[labels[i]]);
                writer.Reserve(1);
            }
            writer.AppendChar('\n');
        }
        writer.Flush();
        file.Commit();
    }

    private static void WriteImages(string path, Dataset data, bool labelled)
    {
        var shape = data.SampleShape;
        if (!shape.IsImage || shape.Channels != 1 || shape.Height != shape.Width || shape.Height > MaxImageSide)
        {
            throw new ArgumentException($"A Kaggle-format CSV holds square grayscale images of side 1 to {MaxImageSide}, not {shape}.", nameof(data));
        }
        int pixelCount = shape.Size;
        string[]? names = labelled && data.ClassNames is { } classNames ? [.. classNames.Select(Field)] : null;
        using var file = AtomicFile.Create(path);
        var writer = new Utf8LineWriter(file.Stream);
        var header = Enumerable.Range(0, pixelCount).Select(i => $"pixel{i}");
        writer.AppendUtf8(string.Join(',', labelled ? header.Prepend(LabelColumn) : header) + "\n");
        byte[] pixels = data.Pixels;
        for (int row = 0; row < data.Count; row++)
        {
            if (labelled)
            {
                if (names is null)
                {
                    writer.Reserve(Utf8LineWriter.MaxNumberBytes + 1);
                    writer.AppendNumber(data.Labels![row]);
                }
                else
                {
                    writer.AppendUtf8(names[data.Labels![row]]);
                }
                writer.Reserve(1);
                writer.AppendChar(',');
            }
            // "255," per value, then a line end, a row at a time while it fits the buffer.
            int start = row * pixelCount;
            for (int i = 0; i < pixelCount; i++)
            {
                if (i % PixelCount == 0)
                {
                    writer.Reserve(4 * PixelCount + 1);
                }
                if (i > 0)
                {
                    writer.AppendChar(',');
                }
                writer.AppendNumber(pixels[start + i]);
            }
            writer.AppendChar('\n');
        }
        writer.Flush();
        file.Commit();
    }

    /// <summary>A text as a CSV field (RFC 4180): as it is, or in quotes (doubled inside) when it holds a comma, quote or line break.</summary>
    public static string Field(string text) =>
        text.AsSpan().IndexOfAny(NeedQuotes) < 0 ? text : $"\"{text.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    /// <summary>The first ten names, then "...": for messages.</summary>
    internal static string Abbreviate(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(10)) + (names.Count > 10 ? ", ..." : "");

    /// <summary>
    /// The fast path for the usual row: unquoted decimal digits and commas only, in which case
    /// the CSV fields are simply the text between commas. Returns false for anything else, which
    /// <see cref="ParseFields"/> then reads field by field, or reports precisely.
    /// </summary>
    private static bool TryParsePlainPixels(ReadOnlySpan<byte> row, Span<byte> image)
    {
        if (row.IndexOfAnyExcept(DigitsAndCommas) >= 0 || row.Count((byte)',') != image.Length - 1)
        {
            return false;
        }
        int p = 0;
        for (int i = 0; i < image.Length; i++)
        {
            int start = p;
            uint value = 0;
            for (; p < row.Length && row[p] != ','; p++)
            {
                value = value * 10 + (uint)(row[p] - '0');
            }
            if (p == start || p - start > 3 || value > 255)
            {
                return false;
            }
            image[i] = (byte)value;
            p++;
        }
        return true;
    }

    private static void ParseFields(CsvInput input, Span<byte> image, ImageLayout layout)
    {
        int first = layout.Labelled ? 1 : 0;
        for (int i = 0; i < image.Length; i++)
        {
            if (!input.TryParseByte(first + i, 255, out image[i]))
            {
                // Throws, naming the column (its name made only now).
                image[i] = (byte)input.ParseNonNegative(first + i, 0, 255, layout.PixelName(i));
            }
        }
    }

    /// <summary>An image file's columns: the label column or not, the number of the first pixel column (0 or 1), the images' shape.</summary>
    private readonly record struct ImageLayout(bool Labelled, int FirstNumber, Shape Shape)
    {
        public int Columns => (Labelled ? 1 : 0) + Shape.Size;

        public string PixelName(int i) => $"pixel{FirstNumber + i}";

        /// <summary>E.g. "label, pixel0..pixel783", for messages.</summary>
        public string Describe() => $"{(Labelled ? "label, " : "")}pixel{FirstNumber}..pixel{FirstNumber + Shape.Size - 1}";
    }

    /// <summary>Whether <paramref name="header"/> is <c>pixel</c> followed by <paramref name="number"/> (no allocation).</summary>
    private static bool IsPixelName(string header, int number) =>
        header.StartsWith("pixel", StringComparison.Ordinal)
        && int.TryParse(header.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int n)
        && n == number
        && header.Length == 5 + CountDigits(number);

    private static int CountDigits(int n) => n < 10 ? 1 : 1 + CountDigits(n / 10);

    /// <summary>Checks the header of an image file and reads its layout from it.</summary>
    private static ImageLayout CheckImageHeader(CsvInput input, bool requireLabels, Shape? imageShape)
    {
        var headers = input.Headers;
        string path = input.Path;
        string head = headers[0];
        bool labelled;
        if (head == LabelColumn)
        {
            labelled = true;
        }
        else if (IsPixelName(head, 0) || IsPixelName(head, 1))
        {
            if (requireLabels)
            {
                throw new DataFormatException(path, $"the '{LabelColumn}' column is missing: this looks like an unlabelled test file ({head}, ...), but labels are required here", 1, 1, LabelColumn);
            }
            labelled = false;
        }
        else if (head == ImageIdColumn)
        {
            throw new DataFormatException(path, $"this is an {ImageIdColumn},{PredictionColumn} file (a submission or test labels), not an image file", 1, 1);
        }
        else
        {
            string expected = requireLabels ? $"'{LabelColumn}'" : $"'{LabelColumn}' or 'pixel0'";
            string hint = head.Length > 0 && head.All(char.IsAsciiDigit) ? " (the file has no header line?)" : "";
            throw new DataFormatException(path, $"header starts with {CsvInput.Show(head)}, expected {expected}{hint}", 1, 1, requireLabels ? LabelColumn : null);
        }

        int first = labelled ? 1 : 0;
        int firstNumber = headers.Count > first && IsPixelName(headers[first], 1) ? 1 : 0;
        int pixelColumns = headers.Count - first;
        long maxPixels = imageShape?.Size ?? (long)MaxImageSide * MaxImageSide;
        int checkedColumns = (int)Math.Min(headers.Count, first + maxPixels);
        for (int i = first; i < checkedColumns; i++)
        {
            if (!IsPixelName(headers[i], firstNumber + i - first))
            {
                string name = $"pixel{firstNumber + i - first}";
                throw new DataFormatException(path, $"header is {CsvInput.Show(headers[i])}, expected '{name}'", 1, i + 1, name);
            }
        }
        if (imageShape is { } shape)
        {
            var layout = new ImageLayout(labelled, firstNumber, shape);
            return headers.Count == layout.Columns
                ? layout
                : throw new DataFormatException(path, $"header has {headers.Count} columns, expected {layout.Columns} ({layout.Describe()}, images of {shape})", 1);
        }
        if (pixelColumns > maxPixels)
        {
            throw new DataFormatException(path, $"header has {pixelColumns:N0} pixel columns, more than the {maxPixels:N0} of a {MaxImageSide}×{MaxImageSide} image, the largest a CSV may hold", 1);
        }
        if (pixelColumns == 0)
        {
            throw new DataFormatException(path, $"header has no pixel columns, expected {(labelled ? "label, " : "")}pixel0, pixel1, ...", 1);
        }
        int side = (int)Math.Round(Math.Sqrt(pixelColumns));
        if (side * side != pixelColumns)
        {
            // The nearest square, the larger on a tie, as the likely intent (a column cut off, one too many).
            int below = (int)Math.Floor(Math.Sqrt(pixelColumns)), above = below + 1;
            side = pixelColumns - below * below < above * above - pixelColumns ? below : above;
            var nearest = new ImageLayout(labelled, firstNumber, Shape.Image(side, side, 1));
            throw new DataFormatException(path, $"header has {headers.Count} columns, expected {nearest.Columns} ({nearest.Describe()} for {side}×{side} images): {pixelColumns} pixel columns do not make a square image", 1);
        }
        return new ImageLayout(labelled, firstNumber, Shape.Image(side, side, 1));
    }

    private static DataFormatException WrongFieldCount(CsvInput input, ImageLayout layout)
    {
        int count = input.FieldCount;
        int columns = layout.Columns;
        if (count > columns)
        {
            return input.RowError($"row has {count} fields, expected {columns}", columns + 1);
        }
        int missing = count + 1;
        string name = layout.Labelled ? (count == 0 ? LabelColumn : layout.PixelName(count - 1)) : layout.PixelName(count);
        string problem = $"row ends after {count} field{(count == 1 ? "" : "s")}, expected {columns}";
        // Read on to tell a short row from a file that was cut off.
        int line = input.Line;
        bool last;
        try
        {
            last = !input.Read();
        }
        catch (DataFormatException)
        {
            last = false;
        }
        return new DataFormatException(input.Path, last ? problem + " (is the file truncated?)" : problem, line, missing, name);
    }

    /// <summary>
    /// The error for a label that would be class 257: reads on through the file (the labels only)
    /// to say how many distinct labels it has.
    /// </summary>
    private static DataFormatException TooManyClasses(CsvInput input, CsvLabels texts, int column = 0)
    {
        int line = input.Line;
        string label = Encoding.UTF8.GetString(input.Field(column));
        var distinct = new HashSet<string>(texts.Texts, StringComparer.Ordinal) { label };
        bool complete = true;
        try
        {
            while (input.Read())
            {
                if (input.FieldCount > column)
                {
                    distinct.Add(Encoding.UTF8.GetString(input.Field(column)));
                }
            }
        }
        catch (DataFormatException)
        {
            complete = false;
        }
        return new DataFormatException(input.Path, $"{(complete ? "" : "at least ")}{distinct.Count:N0} distinct labels, but at most {Dataset.MaxClasses} classes are possible (a label is one byte); label {CsvInput.Show(label)} on line {line} is class {Dataset.MaxClasses + 1}");
    }
}
