// Command plot draws the load harness's charts as PNG files from a JSON
// spec that `loadtest report` writes. It is its own module so that the
// plotting library stays out of tollgate's dependencies.
//
//	go run . SPEC.json
package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Spec is what to draw: one PNG per figure.
type Spec struct {
	Figures []Figure `json:"figures"`
}

// Figure is one PNG of charts tiled in Cols columns.
type Figure struct {
	File   string  `json:"file"`
	Width  float64 `json:"width_in"`
	Height float64 `json:"height_in"`
	Cols   int     `json:"cols"`
	Charts []Chart `json:"charts"`
}

// Chart is a line chart (one line per series over the categories) or a
// grouped bar chart (one bar per series in each category).
type Chart struct {
	Title      string   `json:"title"`
	Kind       string   `json:"kind"` // lines | bars
	XLabel     string   `json:"x_label"`
	YLabel     string   `json:"y_label"`
	LogY       bool     `json:"log_y"`
	Categories []string `json:"categories"`
	Series     []Series `json:"series"`
}

// Series is one named line or set of bars; Y has one value per category.
type Series struct {
	Name string    `json:"name"`
	Y    []float64 `json:"y"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: plot SPEC.json")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "plot: %v\n", err)
		os.Exit(1)
	}
}

func run(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	for _, f := range s.Figures {
		if err := drawFigure(f); err != nil {
			return fmt.Errorf("%s: %v", f.File, err)
		}
	}
	return nil
}

func drawFigure(f Figure) error {
	cols := max(1, f.Cols)
	rows := (len(f.Charts) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, c := range f.Charts {
		p, err := chart(c)
		if err != nil {
			return err
		}
		grid[i/cols][i%cols] = p
	}
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(f.Width)*vg.Inch, vg.Length(f.Height)*vg.Inch), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	out, err := os.Create(f.File)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func chart(c Chart) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	if c.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = ticks125{}
	}
	n := len(c.Series)
	switch c.Kind {
	case "bars":
		w := vg.Points(math.Max(6, 60/float64(max(n, 1))))
		for i, s := range c.Series {
			if len(s.Y) != len(c.Categories) {
				return nil, fmt.Errorf("%s: series %s has %d values for %d categories", c.Title, s.Name, len(s.Y), len(c.Categories))
			}
			bars, err := plotter.NewBarChart(plotter.Values(s.Y), w)
			if err != nil {
				return nil, err
			}
			bars.Color = plotutil.Color(i)
			bars.LineStyle.Width = 0
			bars.Offset = w * vg.Length(float64(i)-float64(n-1)/2)
			p.Add(bars)
			p.Legend.Add(s.Name, bars)
		}
		p.NominalX(c.Categories...)
		p.Y.Min = 0
		p.Y.Max = maxY(c.Series) * 1.3 // room for the legend
	case "lines":
		for i, s := range c.Series {
			if len(s.Y) != len(c.Categories) {
				return nil, fmt.Errorf("%s: series %s has %d values for %d categories", c.Title, s.Name, len(s.Y), len(c.Categories))
			}
			xys := make(plotter.XYs, 0, len(s.Y))
			for j, y := range s.Y {
				if c.LogY && y <= 0 {
					continue
				}
				xys = append(xys, plotter.XY{X: float64(j), Y: y})
			}
			l, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			l.Color = plotutil.Color(i)
			l.Width = vg.Points(1.5)
			l.Dashes = plotutil.Dashes(i)
			pts.Color = plotutil.Color(i)
			pts.Shape = plotutil.Shape(i)
			p.Add(l, pts)
			p.Legend.Add(s.Name, l, pts)
		}
		p.NominalX(c.Categories...)
		p.X.Min, p.X.Max = -0.3, float64(len(c.Categories))-0.7
		if c.LogY {
			p.Y.Max *= 3 // room for the legend
		}
	default:
		return nil, fmt.Errorf("%s: kind %q: want lines or bars", c.Title, c.Kind)
	}
	p.Legend.TextStyle.Color = color.Black
	return p, nil
}

func maxY(series []Series) float64 {
	m := 0.0
	for _, s := range series {
		for _, y := range s.Y {
			m = math.Max(m, y)
		}
	}
	return m
}

// ticks125 marks a log axis at 1, 2 and 5 times each power of ten, every
// one labelled, so that a narrow range still reads.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	if lo <= 0 || hi <= lo {
		return out
	}
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	return out
}
