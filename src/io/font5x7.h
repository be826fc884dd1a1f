/* An embedded 5x7 bitmap font for the plotting module (drawn for jempp; printable
 * ASCII 32..126). Each glyph is 5 columns by JP_FONT_H rows: rows 0..6 hold capitals,
 * digits and punctuation (row 6 is the baseline row), row 7 holds the descenders of
 * g j p q y , and _. Lowercase letters use rows 2..6 for their x-height. Text is set
 * on a JP_FONT_ADVANCE-pixel pitch (one blank column between glyphs). */
#ifndef JEMPP_IO_FONT5X7_H
#define JEMPP_IO_FONT5X7_H

#define JP_FONT_W 5
#define JP_FONT_H 8
#define JP_FONT_ADVANCE 6

/* 1 when glyph `ch` has ink at (col, row), 0 otherwise (also for col/row out of the
 * cell). Characters outside 32..126 are drawn as '?'; a space has no ink. */
int jp_font5x7_ink(int ch, int col, int row);

#endif
