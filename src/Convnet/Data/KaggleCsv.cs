using System.Buffers;
using Convnet.Tensors;
using Convnet.IO;

namespace Convnet.Data;

/// <summary>
/// Kaggle Digit Recognizer CSV files: <c>label,pixel0,...,pixel783</c> (train.csv),
/// <c>pixel0,...,pixel783</c> (test.csv) and <c>ImageId,Label</c> (a submission, or the
/// labels of a test set). Pixel i of an image is row i / 28, column i % 28.
/// </summary>
/// <remarks>
/// Readers accept LF or CRLF line ends, a UTF-8 byte order mark, quoted numbers, blank lines
/// and a missing final line end, and reject anything else with a <see cref="DataFormatException"/>
/// that names the line and column. They never assume a row count. Writers write LF, no BOM,
/// no quotes, to a temporary file that replaces <c>path</c> only when complete.
/// </remarks>
public static class KaggleCsv
{
    /// <summary>The side of an image in pixels (28).</summary>
    public const int ImageSide = 28;
    /// <summary>The pixels of one image, 28 × 28 = 784, one column each.</summary>
    public const int PixelCount = ImageSide * ImageSide;
    /// <summary>The number of classes, the digits 0-9.</summary>
    public const int ClassCount = 10;

    /// <summary>The header of the label column of a training file (<c>label</c>).</summary>
    public const string LabelColumn = "label";
    /// <summary>The header of a submission's first column, the 1-based image number (<c>ImageId</c>).</summary>
    public const string ImageIdColumn = "ImageId";
    /// <summary>The header of a submission's second column, the predicted digit (<c>Label</c>).</summary>
    public const string PredictionColumn = "Label";

    /// <summary>The shape of one image, [28, 28, 1] (height, width, channels).</summary>
    public static Shape ImageShape { get; } = Shape.Image(ImageSide, ImageSide, 1);

    private static readonly SearchValues<byte> DigitsAndCommas = SearchValues.Create("0123456789,"u8);

    // "pixel0".."pixel783": the header, and the column names in messages.
    private static readonly string[] PixelNames = [.. Enumerable.Range(0, PixelCount).Select(i => $"pixel{i}")];

    /// <summary>Reads a training file, <c>label,pixel0..pixel783</c>; a file without labels is an error.</summary>
    public static Dataset ReadLabelled(string path) => Read(path, requireLabels: true);

    /// <summary>
    /// Reads a test file, <c>pixel0..pixel783</c>. A labelled file is accepted too (its labels
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
    /// </summary>
    public static Dataset Read(string path, bool requireLabels = false)
    {
        using var input = CsvInput.Open(path);
        bool labelled = CheckImageHeader(input, requireLabels);
        int columns = labelled ? PixelCount + 1 : PixelCount;
        int first = labelled ? 1 : 0;

        // One row per line after the header, unless there are blank lines: sizing the buffer
        // from a quick count of line breaks saves growing it or trimming it at the end, each a
        // copy of tens of megabytes. A row takes at least one digit and one comma or line end
        // per field, which bounds the count when the line breaks are mostly blank lines (found
        // by fuzzing: a megabyte of them made a 784 MB buffer).
        long mostRows = input.Length / (2 * columns) + 1;
        int capacity = (int)Math.Clamp(Math.Min(input.CountLineBreaks(), mostRows), 1, Array.MaxLength / PixelCount);
        var pixels = GC.AllocateUninitializedArray<byte>(capacity * PixelCount);
        byte[]? labels = labelled ? new byte[capacity] : null;
        int rows = 0;
        while (input.Read())
        {
            if (input.FieldCount != columns)
            {
                throw WrongFieldCount(input, columns, labelled);
            }
            if (rows == capacity)
            {
                capacity = (int)Math.Min(2L * capacity, Array.MaxLength / PixelCount);
                if (rows == capacity)
                {
                    throw input.RowError($"too many rows (more than {rows})");
                }
                Array.Resize(ref pixels, capacity * PixelCount);
                if (labels is not null)
                {
                    Array.Resize(ref labels, capacity);
                }
            }
            var image = pixels.AsSpan(rows * PixelCount, PixelCount);
            if (labels is not null)
            {
                if (!TryParsePlainRow(input.RawRow, image, out labels[rows]))
                {
                    labels[rows] = input.ParseByte(0, ClassCount - 1, LabelColumn);
                    ParseFields(input, image, first);
                }
            }
            else if (!TryParsePlainRow(input.RawRow, image, out _, labelled: false))
            {
                ParseFields(input, image, first);
            }
            rows++;
        }
        if (rows == 0)
        {
            throw new DataFormatException(input.Path, "has a header but no rows");
        }
        if (rows != capacity)
        {
            Array.Resize(ref pixels, rows * PixelCount);
            if (labels is not null)
            {
                Array.Resize(ref labels, rows);
            }
        }
        return new Dataset(pixels, labels, ImageShape);
    }

    /// <summary>
    /// Reads <c>ImageId,Label</c> (a submission, or the labels of a test set). ImageIds must run
    /// 1, 2, ..., n in order; the result holds label k at index k - 1.
    /// </summary>
    public static byte[] ReadLabels(string path)
    {
        using var input = CsvInput.Open(path);
        var headers = input.Headers;
        if (headers[0] is LabelColumn or "pixel0")
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
            labels[rows++] = input.ParseByte(1, ClassCount - 1, PredictionColumn);
        }
        if (rows == 0)
        {
            throw new DataFormatException(path, "has a header but no rows");
        }
        Array.Resize(ref labels, rows);
        return labels;
    }

    /// <summary>Writes <c>label,pixel0..pixel783</c>; the label is the class name when the dataset has <see cref="Dataset.ClassNames"/>.</summary>
    public static void WriteLabelled(string path, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.HasLabels)
        {
            throw new ArgumentException("A labelled file needs a dataset with labels.", nameof(data));
        }
        WriteImages(path, data, labelled: true);
    }

    /// <summary>Writes <c>pixel0..pixel783</c>, leaving out the labels if the dataset has them.</summary>
    public static void WriteUnlabelled(string path, Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        WriteImages(path, data, labelled: false);
    }

    /// <summary>
    /// Writes <c>ImageId,Label</c> with ImageIds from 1: a Kaggle submission. With
    /// <paramref name="classNames"/>, the Label column holds the name of each label (quoted as
    /// CSV needs), else its number.
    /// </summary>
    public static void WriteLabels(string path, ReadOnlySpan<byte> labels, IReadOnlyList<string>? classNames = null)
    {
        byte[][]? names = classNames is null ? null : LabelFields(classNames);
        using var file = AtomicFile.Create(path);
        var writer = new Utf8LineWriter(file.Stream);
        writer.AppendText($"{ImageIdColumn},{PredictionColumn}\n");
        for (int i = 0; i < labels.Length; i++)
        {
            writer.Reserve(Utf8LineWriter.MaxNumberBytes + 1);
            writer.AppendNumber(i + 1);
            writer.AppendChar(',');
            AppendLabel(writer, labels[i], names);
            writer.AppendChar('\n');
        }
        writer.Flush();
        file.Commit();
    }

    private static void WriteImages(string path, Dataset data, bool labelled)
    {
        if (data.SampleShape != ImageShape)
        {
            throw new ArgumentException($"The Kaggle format holds {ImageShape} images, not {data.SampleShape}.", nameof(data));
        }
        byte[][]? names = labelled && data.ClassNames is { } classNames ? LabelFields(classNames) : null;
        using var file = AtomicFile.Create(path);
        var writer = new Utf8LineWriter(file.Stream);
        writer.AppendText(labelled ? $"{LabelColumn},{string.Join(',', PixelNames)}\n" : $"{string.Join(',', PixelNames)}\n");
        byte[] pixels = data.Pixels;
        for (int row = 0; row < data.Count; row++)
        {
            if (labelled)
            {
                AppendLabel(writer, data.Labels![row], names);
                writer.AppendChar(',');
            }
            // "255," per value, then a line end.
            writer.Reserve(4 * PixelCount + 1);
            int start = row * PixelCount;
            for (int i = 0; i < PixelCount; i++)
            {
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

    /// <summary>Each class name as a CSV field in UTF-8: quoted (RFC 4180) when it holds a comma, a quote or a line break.</summary>
    private static byte[][] LabelFields(IReadOnlyList<string> classNames)
    {
        Dataset.CheckClassNames(classNames, nameof(classNames));
        return [.. classNames.Select(name => System.Text.Encoding.UTF8.GetBytes(
            name.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : name))];
    }

    /// <summary>
    /// Appends a label as its number, or as its class name's field when there are
    /// <paramref name="names"/>, with room reserved for it and one separator after it.
    /// </summary>
    private static void AppendLabel(Utf8LineWriter writer, byte label, byte[][]? names)
    {
        if (names is null)
        {
            writer.Reserve(Utf8LineWriter.MaxNumberBytes + 1);
            writer.AppendNumber(label);
            return;
        }
        if (label >= names.Length)
        {
            throw new ArgumentException($"Label {label} but only {names.Length} class names.", nameof(label));
        }
        writer.Reserve(names[label].Length + 1);
        writer.AppendBytes(names[label]);
    }

    /// <summary>
    /// The fast path for the usual row: unquoted decimal digits and commas only, in which case
    /// the CSV fields are simply the text between commas. Returns false for anything else, which
    /// <see cref="ParseFields"/> then reads field by field, or reports precisely.
    /// </summary>
    private static bool TryParsePlainRow(ReadOnlySpan<byte> row, Span<byte> image, out byte label, bool labelled = true)
    {
        label = 0;
        int fields = image.Length + (labelled ? 1 : 0);
        if (row.IndexOfAnyExcept(DigitsAndCommas) >= 0 || row.Count((byte)',') != fields - 1)
        {
            return false;
        }
        int p = 0;
        if (labelled)
        {
            if (row[0] == ',' || row[1] != ',')
            {
                return false;
            }
            label = (byte)(row[0] - '0');
            p = 2;
        }
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

    private static void ParseFields(CsvInput input, Span<byte> image, int first)
    {
        for (int i = 0; i < image.Length; i++)
        {
            image[i] = input.ParseByte(first + i, 255, PixelNames[i]);
        }
    }

    /// <summary>Checks the header of an image file; true when it has a label column.</summary>
    private static bool CheckImageHeader(CsvInput input, bool requireLabels)
    {
        var headers = input.Headers;
        string path = input.Path;
        string head = headers[0];
        bool labelled;
        if (head == LabelColumn)
        {
            labelled = true;
        }
        else if (head == PixelNames[0])
        {
            if (requireLabels)
            {
                throw new DataFormatException(path, $"the '{LabelColumn}' column is missing: this looks like an unlabelled test file (pixel0..pixel783), but labels are required here", 1, 1, LabelColumn);
            }
            labelled = false;
        }
        else if (head == ImageIdColumn)
        {
            throw new DataFormatException(path, $"this is an {ImageIdColumn},{PredictionColumn} file (a submission or test labels), not an image file", 1, 1);
        }
        else
        {
            string expected = requireLabels ? $"'{LabelColumn}'" : $"'{LabelColumn}' or '{PixelNames[0]}'";
            string hint = head.Length > 0 && head.All(char.IsAsciiDigit) ? " (the file has no header line?)" : "";
            throw new DataFormatException(path, $"header starts with {CsvInput.Show(head)}, expected {expected}{hint}", 1, 1, requireLabels ? LabelColumn : null);
        }

        int first = labelled ? 1 : 0;
        int columns = first + PixelCount;
        for (int i = first; i < Math.Min(headers.Count, columns); i++)
        {
            string name = PixelNames[i - first];
            if (headers[i] != name)
            {
                throw new DataFormatException(path, $"header is {CsvInput.Show(headers[i])}, expected '{name}'", 1, i + 1, name);
            }
        }
        if (headers.Count != columns)
        {
            throw new DataFormatException(path, $"header has {headers.Count} columns, expected {columns} ({(labelled ? "label, " : "")}pixel0..pixel783)", 1);
        }
        return labelled;
    }

    private static DataFormatException WrongFieldCount(CsvInput input, int columns, bool labelled)
    {
        int count = input.FieldCount;
        if (count > columns)
        {
            return input.RowError($"row has {count} fields, expected {columns}", columns + 1);
        }
        int missing = count + 1;
        string name = labelled ? (count == 0 ? LabelColumn : PixelNames[count - 1]) : PixelNames[count];
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
}
